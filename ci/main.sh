#!/usr/bin/env bash
# The main job, as far as the project goes today: install dependencies, build, fetch and package
# the current Debian bookworm kernel into ./out (verified against Debian's signed indexes), and
# boot it under QEMU from a virtiofs share whose /probe prints what the VM sees.
# (Installing runcvm-runtime into dockerd and `docker run --runtime=runcvm` arrive with the runtime.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
bash ci/build.sh build
./build/bin/runcvm-build kernels --recipe debian-bookworm --out out --timings

share=$(mktemp -d /tmp/runcvm-share.XXXXXX)
trap 'rm -rf "$share"' EXIT
cp build/tests/runcvm-boot-probe "$share/probe"
echo "== booting out/kernels/debian/latest ($(readlink out/kernels/debian/latest)) under QEMU (TCG)"
bash ci/boot-kernel.sh out/kernels/debian/latest "$share" /probe
