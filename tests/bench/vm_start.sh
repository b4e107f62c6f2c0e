#!/usr/bin/env bash
# Benchmark: wall time of `docker run --rm --runtime=runcvm IMG true` under TCG, against
#   (a) the floor: the same kernel and initramfs booted by bare QEMU to a trivial static init
#       that powers off at once (ci/boot-kernel.sh), and
#   (b) `docker run --rm IMG true` with runc;
# medians of N runs, all in this run; then where the time goes, per stage (medians of N runs with
# RUNCVM_TIMINGS=1, placed between the docker CLI's start and end). Needs a dockerd with runcvm
# registered (bash ci/main.sh).
# usage: tests/bench/vm_start.sh BUILD_DIR [RUNS] [BUNDLE]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR [RUNS] [BUNDLE]}" && pwd)
RUNS=${2:-5}
BUNDLE=${3:-/opt/runcvm}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/runcvm-bench-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian


mkdir -p "$WORK/share"
cp "$BUILD_DIR/tests/runcvm-boot-probe" "$WORK/share/probe"
floor=$(time_runs bash "$SOURCE_DIR/ci/boot-kernel.sh" "$BUNDLE/kernels/debian/latest" "$WORK/share" /probe)
runc_ms=$(time_runs docker run --rm runcvm/busybox true)
ours=$(time_runs docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm/busybox true)
echo "floor (bare QEMU, same kernel+initramfs, init powers off): ${floor} ms"
echo "docker run --rm IMG true (runc):                          ${runc_ms} ms"
echo "docker run --rm --runtime=runcvm IMG true (TCG):          ${ours} ms  (x$(python3 -c "print(f'{$ours/$floor:.2f}')") of the floor; $(( ours - floor )) ms above it)"

# The breakdown: the CLI's start and end around runcvm-init's own report of each stage.
for _ in $(seq "$RUNS"); do
  start=$(now_ms)
  docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TIMINGS=1 runcvm/busybox true 2>"$WORK/stderr"
  end=$(now_ms)
  echo "cli_start=$start cli_end=$end $(grep '^runcvm: timings (ms):' "$WORK/stderr" | cut -d: -f3-)" >>"$WORK/timings"
done
wrapper=$(bash "$SOURCE_DIR/tests/bench/runtime.sh" "$BUILD_DIR" 20 | sed -n 's/.*added by the wrapper: \([0-9.]*\) ms.*/\1/p')
python3 - "$WORK/timings" "$wrapper" <<'PY'
import statistics, sys
runs = [dict(f.split("=") for f in line.split()) for line in open(sys.argv[1])]
def median(key):
    return statistics.median(int(r[key]) for r in runs)
rows = [
    ("docker CLI, dockerd, containerd, runc until runcvm-init runs", statistics.median(int(r["started_at"]) - int(r["cli_start"]) for r in runs)),
    ("  of which runcvm-runtime's create (tests/bench/runtime.sh)", float(sys.argv[2])),
    ("runcvm-init: virtiofsd up, QEMU spawned (helpers)", median("helpers")),
    ("QEMU start and firmware, until the kernel counts time", median("qemu+firmware")),
    ("kernel boot, until the initramfs init", median("kernel")),
    ("initramfs: modules, virtiofs root, switch root", median("initramfs")),
    ("runcvm-vm-init: mounts, settings, workload spawned", median("vm-init")),
    ("workload (true), output drained", median("workload")),
    ("shutdown: exit status, ack, poweroff, QEMU exit", median("shutdown")),
    ("docker: exit seen, container removed, CLI returns", statistics.median(int(r["cli_end"]) - int(r["ended_at"]) for r in runs)),
]
print("breakdown (medians of %d runs, ms):" % len(runs))
for name, value in rows:
    print(f"  {name:<66} {value:>7.1f}")
print(f"  {'total (CLI start to end)':<66} {statistics.median(int(r['cli_end']) - int(r['cli_start']) for r in runs):>7.1f}")
PY
