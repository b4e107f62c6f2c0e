#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) and runs each for a short time from its
# committed corpus (tests/fuzz/corpus/<target>; the recipes directory seeds the recipe fuzzer).
# New inputs go to a scratch copy, so the committed corpus only changes by hand.
# usage: ci/fuzz.sh [SECONDS_PER_TARGET]   |   ci/fuzz.sh --build-only
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
# -O1 with line tables: fast enough to fuzz, quicker to compile than -O2 -g; warnings are the
# normal build's to catch.
BUILD_TARGET=fuzz-targets CXX=clang++ bash ci/build.sh build-fuzz -DRUNCVM_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DRUNCVM_WERROR=OFF
[[ $seconds == --build-only ]] && exit 0
work=$(mktemp -d /tmp/runcvm-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Every target the build made (tests/fuzz/CMakeLists.txt is the one list).
for binary in build-fuzz/fuzz/fuzz-*; do
  target=${binary#build-fuzz/fuzz/fuzz-}
  mkdir -p "$work/$target"
  seeds=(tests/fuzz/corpus/$target)
  # Real inputs seed some targets too (libFuzzer takes directories, so files are copied in).
  case $target in
    recipe) seeds+=(kernel-recipes) ;;
    create_transform) for f in tests/runtime/golden/docker-*/in.json; do cp "$f" "$work/$target/$(basename "$(dirname "$f")")"; done ;;
    launch) for f in tests/runtime/golden/docker-*/launch.json; do cp "$f" "$work/$target/$(basename "$(dirname "$f")")"; done ;;
    elf) head -c 65536 build-fuzz/bin/runcvm-build >"$work/$target/dynamic"; head -c 65536 build-fuzz/bin/runcvm-init >"$work/$target/static" ;;
  esac
  if ! "build-fuzz/fuzz/fuzz-$target" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="$work/" \
      "$work/$target" "${seeds[@]}" >"$work/$target.log" 2>&1; then
    tail -40 "$work/$target.log" >&2
    echo "ci/fuzz.sh: fuzz-$target found a failure; reproducer: $(ls "$work"/crash-* "$work"/leak-* 2>/dev/null | head -1)" >&2
    cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* . 2>/dev/null || true
    exit 1
  fi
  echo "fuzz-$target: $(grep -E '^Done [0-9]+ runs' "$work/$target.log" | tail -1), no failure"
done
