#!/usr/bin/env bash
# The test command: installs dependencies, builds everything with -Werror, checks the format and
# lints (ci/lint.sh), runs the unit tests
# under AddressSanitizer + UBSan, fuzzes every parser of untrusted input briefly (clang build),
# then runs every test but the heavy ones (unit and integration: local mirrors, bad input, the real Debian kernels
# booted under QEMU, real dockerd and containerd) against the normal build. Needs root (mounts, apt).
# The sanitized and fuzzing builds run before the tests, not beside them: compiling beside the
# VMs under test (even at nice 19, in a scheduler autogroup of nice 19) made the suite slower
# overall (measured: 2x on the VM tests), since the VMs keep both cores busy.
# Every test stops what it started (HTTP servers, virtiofsd, QEMU, tmpfs mounts).
#
# Tests labelled `heavy` take many minutes each (a docker build of the whole toolchain, images made
# with mmdebstrap): CI leaves them out to stay within its time; `bash ci/test.sh --heavy` builds,
# runs clang-tidy over every file (CI's lint covers the code facing hostile input) and runs just
# those tests; it is run before an issue that touches them is called resolved.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says what it cost when the next begins, and the whole at the end: CI prints its log
# only when it fails, and its time limit is the suite's budget.
step_started=$SECONDS step_name="install dependencies"
step_took() { echo "-- ${step_name}: $((SECONDS - step_started)) s (total $SECONDS s)"; }
step() {
  step_took
  step_name=$1 step_started=$SECONDS
  echo "== $1"
}
trap step_took EXIT

bash ci/install-deps.sh
jobs=$(nproc)

if [[ "${1:-}" == "--heavy" ]]; then
  step "build (RelWithDebInfo, -Werror)"
  bash ci/build.sh build
  step "lint of every file (clang-tidy)"
  bash ci/lint.sh build --all
  step "heavy tests"
  ctest --test-dir build -L heavy --output-on-failure
  exit 0
fi

step "build (RelWithDebInfo, -Werror)"
bash ci/build.sh build

step "format and lint (clang-format, clang-tidy)"
bash ci/lint.sh build

step "unit tests with address,undefined sanitizers"
# Only the unit tests' program is built sanitized; the static programs are never sanitized, and the
# check that they are static runs on the normal build below. Unoptimised with line tables only
# (-O0 -g1): this build was CI's longest step at -O2 -g (12 min), and the sanitizers need neither;
# warnings are the normal build's to catch (they differ with the optimisation level).
BUILD_TARGET=runcvm-unit-tests bash ci/build.sh build-sanitize -DRUNCVM_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DRUNCVM_WERROR=OFF
# One process for every test case: ctest starts the program once per case, and about 190 starts of
# the sanitized binary took 75 s on two cores.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  build-sanitize/bin/runcvm-unit-tests

step "fuzzing (clang, 6 s per parser)"
bash ci/fuzz.sh 6

step "all tests but the heavy ones (bash ci/test.sh --heavy)"
ctest --test-dir build -j "$jobs" -LE heavy --output-on-failure
