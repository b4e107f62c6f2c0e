#!/usr/bin/env bash
# Benchmark: start time per kernel and machine type, under TCG. For each bundle kernel (default:
# debian and runcvm, i.e. Debian's packaged kernel and the runcvm-minimal one) on q35 and microvm:
# the median wall time of `docker run --rm --runtime=runcvm IMG true` and, from RUNCVM_TIMINGS, the
# medians of the kernel's own boot and of the initramfs stage; against `docker run --rm IMG true`
# with runc, the baseline, all in this run. Then each kernel's ten slowest initcalls on q35
# (initcall_debug and ignore_loglevel on the console, one run). Needs a dockerd with runcvm registered whose bundle
# has those kernels (RUNCVM_DEV_RECIPES="debian-bookworm runcvm-minimal" bash ci/dev-bundle.sh …).
# usage: tests/bench/kernel_boot.sh [RUNS] [KERNELS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
KERNELS=${2:-debian runcvm}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/runcvm-bench-kernel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian

vm() { docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg "$@"; }
runc_ms=$(time_runs docker run --rm runcvm/busybox true)
echo "docker run --rm IMG true, runc (baseline): ${runc_ms} ms"
printf '%-8s %-8s %9s %8s %9s %11s\n' kernel machine "wall ms" "x runc" "kernel ms" "initramfs ms"
for kernel in $KERNELS; do
  for machine in q35 microvm; do
    : >"$WORK/timings"
    walls=()
    for _ in $(seq "$RUNS"); do
      start=$(now_ms)
      vm -e RUNCVM_KERNEL=$kernel -e RUNCVM_QEMU_MACHINE=$machine -e RUNCVM_TIMINGS=1 runcvm/busybox true 2>"$WORK/err" ||
        { echo "failed: $kernel on $machine: $(tail -2 "$WORK/err")" >&2; exit 1; }
      walls+=($(($(now_ms) - start)))
      grep '^runcvm: timings (ms):' "$WORK/err" | cut -d: -f3- >>"$WORK/timings"
    done
    wall=$(echo "${walls[*]}" | median)
    kernel_ms=$(sed 's/.* kernel=\([0-9]*\).*/\1/' "$WORK/timings" | tr '\n' ' ' | median)
    initramfs_ms=$(sed 's/.* initramfs=\([0-9]*\).*/\1/' "$WORK/timings" | tr '\n' ' ' | median)
    printf '%-8s %-8s %9s %8s %9s %11s\n' "$kernel" "$machine" "$wall" \
      "$(python3 -c "print(f'{$wall/$runc_ms:.2f}')")" "$kernel_ms" "$initramfs_ms"
  done
done

for kernel in $KERNELS; do
  echo "ten slowest initcalls, $kernel kernel on q35 (TCG, usecs):"
  vm -e RUNCVM_KERNEL=$kernel -e RUNCVM_KERNEL_DEBUG=1 -e RUNCVM_KERNEL_APPEND="initcall_debug ignore_loglevel" runcvm/busybox true \
    >"$WORK/console" 2>&1 || true
  sed -n 's/.*initcall \([^ ]*\) returned .* after \([0-9]*\) usecs.*/\2 \1/p' "$WORK/console" | sort -rn | awk 'NR <= 10' |
    awk '{printf "  %8d  %s\n", $1, $2}'
done
