#!/usr/bin/env bash
# The test command: installs dependencies, builds everything with -Werror, checks the format and
# lints (ci/lint.sh), runs every test but the heavy ones (unit and integration: local mirrors, bad
# input, the real Debian kernels booted under QEMU, real dockerd and containerd) against the
# normal build, then the unit tests under AddressSanitizer + UBSan, and fuzzes every parser of
# untrusted input briefly (clang build); those two builds compile beside the tests. Needs root
# (mounts, apt).
# Every test stops what it started (HTTP servers, virtiofsd, QEMU, tmpfs mounts).
#
# Tests labelled `heavy` take many minutes each (a docker build of the whole toolchain, images made
# with mmdebstrap): CI leaves them out to stay within its time; `bash ci/test.sh --heavy` builds
# and runs just those, and is run before an issue that touches them is called resolved.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
jobs=$(nproc)

if [[ "${1:-}" == "--heavy" ]]; then
  echo "== build (RelWithDebInfo, -Werror)"
  bash ci/build.sh build
  echo "== heavy tests"
  ctest --test-dir build -L heavy --output-on-failure
  exit 0
fi

echo "== build (RelWithDebInfo, -Werror)"
bash ci/build.sh build

echo "== format and lint (clang-format, clang-tidy)"
bash ci/lint.sh build

# The sanitized unit tests' and the fuzzers' builds compile at the lowest priority while the
# tests below run: the VMs under test leave much of the CPU idle (one busy vCPU at a time), and a
# nice-19 compiler takes only what they leave, so the suite's timings hold.
background_log=$(mktemp /tmp/runcvm-ci-builds.XXXXXX)
echo "== sanitized and fuzzing builds, at nice 19 beside the tests (log: $background_log)"
# A session of its own, so that a failing test stops the whole build with it.
setsid nice -n 19 bash -c 'BUILD_TARGET=runcvm-unit-tests bash ci/build.sh build-sanitize -DRUNCVM_SANITIZE=address,undefined &&
  bash ci/fuzz.sh --build-only' >"$background_log" 2>&1 &
background=$!
trap 'kill -- -$background 2>/dev/null || true' EXIT

echo "== all tests but the heavy ones (bash ci/test.sh --heavy)"
ctest --test-dir build -j "$jobs" -LE heavy --output-on-failure

echo "== waiting for the sanitized and fuzzing builds"
wait "$background" || { tail -40 "$background_log"; echo "the sanitized or fuzzing build failed" >&2; exit 1; }
trap - EXIT

echo "== unit tests with address,undefined sanitizers"
# Only the unit tests' program is built sanitized; the static programs are never sanitized, and the
# check that they are static runs on the normal build above.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ctest --test-dir build-sanitize -L unit -E "binaries are static" -j "$jobs" --output-on-failure

echo "== fuzzing (clang, 15 s per parser)"
bash ci/fuzz.sh 15
