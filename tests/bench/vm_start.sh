#!/usr/bin/env bash
# Benchmark: wall time of `docker run --rm --runtime=runcvm IMG true` under TCG, against
#   (a) the floor: the same kernel and initramfs booted by bare QEMU to a trivial static init
#       that powers off at once (ci/boot-kernel.sh), and
#   (b) `docker run --rm IMG true` with runc;
# medians of N runs, all in this run. Needs a dockerd with runcvm registered (bash ci/main.sh).
# usage: tests/bench/vm_start.sh BUILD_DIR [RUNS] [BUNDLE]
set -euo pipefail
BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR [RUNS] [BUNDLE]}" && pwd)
RUNS=${2:-5}
BUNDLE=${3:-/opt/runcvm}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/runcvm-bench-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() {  # command… -> median ms
  local times=() start
  for _ in $(seq "$RUNS"); do
    start=$(now_ms)
    "$@" >/dev/null 2>&1
    times+=($(( $(now_ms) - start )))
  done
  echo "${times[*]}" | median
}

mkdir -p "$WORK/share"
cp "$BUILD_DIR/tests/runcvm-boot-probe" "$WORK/share/probe"
floor=$(time_runs bash "$SOURCE_DIR/ci/boot-kernel.sh" "$BUNDLE/kernels/debian/latest" "$WORK/share" /probe)
runc_ms=$(time_runs docker run --rm runcvm/busybox true)
ours=$(time_runs docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm/busybox true)
echo "floor (bare QEMU, same kernel+initramfs, init powers off): ${floor} ms"
echo "docker run --rm IMG true (runc):                          ${runc_ms} ms"
echo "docker run --rm --runtime=runcvm IMG true (TCG):          ${ours} ms  (x$(python3 -c "print(f'{$ours/$floor:.2f}')") of the floor; $(( ours - floor )) ms above it)"
