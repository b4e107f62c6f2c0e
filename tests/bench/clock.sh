#!/usr/bin/env bash
# Benchmark: how far a VM's clock is from the host's over time (channel/clock_sync.hpp), every
# INTERVAL seconds for DURATION seconds, against a runc container measured the same way in the
# same run (the baseline: what the probe itself adds, a container sharing the host's clock). Each
# figure is the best of 20 round trips through docker exec, both clocks read around it
# (tests/fixtures/clock-probe); the VM runs a CPU-bound loop, as a busy guest's clock is the one
# most likely to fall behind.
# Needs a dockerd with runcvm registered (bash ci/main.sh) and a build (cmake --build build).
# usage: tests/bench/clock.sh [DURATION] [INTERVAL] [BUILD_DIR]
set -euo pipefail
DURATION=${1:-600}
INTERVAL=${2:-10}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "${3:-$SOURCE_DIR/build}" && pwd)
PROBE="$BUILD_DIR/tests/runcvm-clock-probe"
trap 'docker rm -f runcvm-bench-clock-runc runcvm-bench-clock-vm >/dev/null 2>&1 || true' EXIT
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian

docker run -d --name runcvm-bench-clock-runc -v "$BUILD_DIR/tests:/probe:ro" runcvm/busybox sleep 100000 >/dev/null
docker run -d --name runcvm-bench-clock-vm --runtime=runcvm -e RUNCVM_QEMU_ACCEL="${RUNCVM_QEMU_ACCEL:-tcg}" \
  -v "$BUILD_DIR/tests:/probe:ro" runcvm/busybox sh -c 'while :; do :; done' >/dev/null
docker exec runcvm-bench-clock-vm true  # waits for the VM to boot

offset() { "$PROBE" measure 20 docker exec -i "$1" /probe/runcvm-clock-probe serve | sed -n 's/^offset_ms=\([-0-9.]*\) .*/\1/p'; }
echo "seconds  runc_offset_ms  vm_offset_ms"
worst=0 started=$(date +%s)
while :; do
  elapsed=$(($(date +%s) - started))
  runc=$(offset runcvm-bench-clock-runc)
  vm=$(offset runcvm-bench-clock-vm)
  printf '%7d  %14s  %12s\n' "$elapsed" "$runc" "$vm"
  worst=$(awk -v w="$worst" -v o="$vm" 'BEGIN { o = o < 0 ? -o : o; print (o > w ? o : w) }')
  [[ $elapsed -lt $DURATION ]] || break
  sleep "$INTERVAL"
done
echo "worst VM offset over ${DURATION} s: ${worst} ms (runc baseline: the probe's own error, listed above)"
