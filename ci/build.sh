#!/usr/bin/env bash
# Configures and builds runcvm with warnings as errors. Usage: ci/build.sh [BUILD_DIR] [cmake args…]
# BUILD_TARGET=NAME builds that target (and what it needs) only.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNCVM_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" ${BUILD_TARGET:+--target "$BUILD_TARGET"}
