#!/usr/bin/env bash
# The test command: installs dependencies, builds everything with -Werror, runs the unit tests
# under AddressSanitizer + UBSan, fuzzes every parser of untrusted input briefly (clang build),
# then runs every test (unit and integration: local mirrors, bad input, the real Debian kernels
# booted under QEMU) against the normal build. Needs root (mounts, apt).
# Every test stops what it started (HTTP servers, virtiofsd, QEMU, tmpfs mounts).
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
jobs=$(nproc)

echo "== build (RelWithDebInfo, -Werror)"
bash ci/build.sh build

echo "== unit tests with address,undefined sanitizers"
bash ci/build.sh build-sanitize -DRUNCVM_SANITIZE=address,undefined
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ctest --test-dir build-sanitize -L unit -j "$jobs" --output-on-failure

echo "== fuzzing (clang, 20 s per parser)"
bash ci/fuzz.sh 20

echo "== all tests"
ctest --test-dir build -j "$jobs" --output-on-failure
