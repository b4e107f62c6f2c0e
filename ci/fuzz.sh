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
# One target: its seeds, then libFuzzer for $seconds; prints one line, or the failure and its
# reproducer (copied here) and fails.
fuzz_target() {
  local target=$1
  mkdir -p "$work/$target"
  local seeds=(tests/fuzz/corpus/$target)
  # Real inputs seed some targets too (libFuzzer takes directories, so files are copied in).
  case $target in
    recipe) seeds+=(kernel-recipes) ;;
    create_transform) for f in tests/runtime/golden/docker-*/in.json; do cp "$f" "$work/$target/$(basename "$(dirname "$f")")"; done ;;
    launch) for f in tests/runtime/golden/docker-*/launch.json; do cp "$f" "$work/$target/$(basename "$(dirname "$f")")"; done ;;
    elf) head -c 65536 build-fuzz/bin/runcvm-build >"$work/$target/dynamic"; head -c 65536 build-fuzz/bin/runcvm-init >"$work/$target/static" ;;
  esac
  # Each target's reproducers go to a directory of its own: targets run side by side.
  mkdir -p "$work/artifacts-$target"
  if ! "build-fuzz/fuzz/fuzz-$target" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="$work/artifacts-$target/" \
      "$work/$target" "${seeds[@]}" >"$work/$target.log" 2>&1; then
    tail -40 "$work/$target.log" >&2
    echo "ci/fuzz.sh: fuzz-$target found a failure; reproducer: $(ls "$work/artifacts-$target"/* 2>/dev/null | head -1)" >&2
    cp "$work/artifacts-$target"/* . 2>/dev/null || true
    return 1
  fi
  echo "fuzz-$target: $(grep -E '^Done [0-9]+ runs' "$work/$target.log" | tail -1), no failure"
}
export -f fuzz_target
export work seconds
# A target is single-threaded: as many run at once as there are cores.
for binary in build-fuzz/fuzz/fuzz-*; do echo "${binary#build-fuzz/fuzz/fuzz-}"; done |
  xargs -P "$(nproc)" -I{} bash -c 'fuzz_target "$1"' _ {}
