#!/usr/bin/env bash
# The /opt/runcvm bundle of a build, for development and the tests: the same two steps a release
# takes (`runcvm-build kernels`, then `runcvm-build bundle --out`), with this machine's QEMU,
# virtiofsd and busybox-static. CACHE_DIR keeps the downloads and the kernel artifacts, so a
# second bundle from an unchanged build and recipe takes seconds. RUNCVM_DEV_RECIPES names the
# kernel recipes (default debian-bookworm; e.g. "debian-bookworm runcvm-minimal").
# usage: ci/dev-bundle.sh BUILD_DIR BUNDLE_DIR [CACHE_DIR]
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR BUNDLE_DIR [CACHE_DIR]}" && pwd)
bundle=${2:?usage: $0 BUILD_DIR BUNDLE_DIR [CACHE_DIR]}
cache=${3:-${XDG_CACHE_HOME:-$HOME/.cache}/runcvm}
mkdir -p "$cache"
kernels=$(mktemp -d "$cache/kernels-out.XXXXXX")
trap 'rm -rf "$kernels"' EXIT
recipes=()
for recipe in ${RUNCVM_DEV_RECIPES:-debian-bookworm}; do recipes+=(--recipe "$recipe"); done
"$build/bin/runcvm-build" kernels "${recipes[@]}" --out "$kernels" --cache "$cache"
"$build/bin/runcvm-build" bundle --kernels "$kernels" --out "$bundle"
