#!/usr/bin/env bash
# Benchmark: `docker run --rm --runtime=runcvm IMG true` under TCG per kernel source, for an image
# that carries its own kernel: the bundle's (RUNCVM_KERNEL=debian: its vmlinux, entered directly,
# and runcvm's initramfs), the same kernel's bzImage (through its decompressor: a copy of the
# bundle's kernel without vmlinux, made in BUNDLE for the run and removed after it) and the image's
# (its bzImage through its own initramfs-tools);
# runc on the same image as the baseline; medians of N runs, all in this run, with where the time
# went (RUNCVM_TIMINGS=1). IMAGE: e.g. runtime_image_kernel.sh's runcvm-test/kernel (Debian
# bookworm, linux-image-cloud-amd64, virtiofs in its initramfs). Needs a dockerd with runcvm.
# usage: tests/bench/kernel_sources.sh IMAGE [RUNS]   env: BUNDLE (default /opt/runcvm)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
IMAGE=${1:?usage: $0 IMAGE [RUNS]}
RUNS=${2:-5}
BUNDLE=${BUNDLE:-/opt/runcvm}
WORK=$(mktemp -d /tmp/runcvm-bench-kernels.XXXXXX)
BZIMAGE_DIST="$BUNDLE/kernels/bench-bzimage"
trap 'rm -rf "$WORK" "$BZIMAGE_DIST"' EXIT
version=$(readlink "$BUNDLE/kernels/debian/latest")
mkdir -p "$BZIMAGE_DIST"
cp -al "$BUNDLE/kernels/debian/$version" "$BZIMAGE_DIST/$version"
rm "$BZIMAGE_DIST/$version/vmlinux"
ln -s "$version" "$BZIMAGE_DIST/latest"
measure() {  # label, docker run arguments… -> "label wall_ms qemu+firmware kernel+initramfs vm-init"
  local label=$1 walls=() start
  shift
  : >"$WORK/$label"
  for _ in $(seq "$RUNS"); do
    start=$(now_ms)
    docker run --rm "$@" true 2>"$WORK/stderr" || { echo "failed: $label: $(cat "$WORK/stderr")" >&2; exit 1; }
    walls+=($(( $(now_ms) - start )))
    grep '^runcvm: timings' "$WORK/stderr" >>"$WORK/$label" || true
  done
  local wall; wall=$(echo "${walls[*]}" | median)
  [[ -n "${BASELINE_MS:-}" ]] || BASELINE_MS=$wall
  python3 - "$label" "$wall" "$WORK/$label" "$BASELINE_MS" <<'PY'
import statistics, sys
label, wall, path, baseline = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
runs = [dict(f.split("=") for f in line.split(":", 2)[2].split()) for line in open(path)]
def med(f):
    return statistics.median(f(r) for r in runs) if runs else 0
print(f"{label:<24} {wall:6d} ms  x{wall / baseline:4.2f} of runc   qemu+firmware {med(lambda r: int(r['qemu+firmware'])):5.0f}   "
      f"kernel+initramfs {med(lambda r: int(r['kernel']) + int(r['initramfs'])):5.0f}   vm-init {med(lambda r: int(r['vm-init'])):4.0f}")
PY
}
BASELINE_MS=""
measure runc "$IMAGE"
measure "bundle kernel (vmlinux)" --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TIMINGS=1 -e RUNCVM_KERNEL=debian "$IMAGE"
measure "bundle kernel (bzImage)" --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TIMINGS=1 -e RUNCVM_KERNEL=bench-bzimage "$IMAGE"
measure "image kernel (bzImage)" --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TIMINGS=1 "$IMAGE"
