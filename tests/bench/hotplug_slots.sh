#!/usr/bin/env bash
# Benchmark: what q35's empty hot-plug slots (RUNCVM_QEMU_HOTPLUG_SLOTS) cost a VM's start under
# TCG. Runs alternate between 0 slots (the baseline) and each other count, in the same dockerd;
# prints the median of RUNCVM_TIMINGS' stages (QEMU + firmware, kernel) and of the whole start for
# each count, and its difference from the baseline. Not a timed test.
# usage: tests/bench/hotplug_slots.sh [RUNS] [COUNTS]   (a dockerd with runcvm registered; image runcvm/busybox)
set -euo pipefail
RUNS=${1:-10}
COUNTS=${2:-"2 4"}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian
WORK=$(mktemp -d /tmp/runcvm-bench-slots.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for _ in $(seq "$RUNS"); do
  for slots in 0 $COUNTS; do
    line=$(docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TIMINGS=1 \
      -e RUNCVM_QEMU_HOTPLUG_SLOTS="$slots" runcvm/busybox true 2>&1 | grep "timings (ms)")
    echo "$slots $line" >>"$WORK/runs"
  done
done
python3 - "$WORK/runs" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    slots, rest = line.split(" ", 1)
    runs.setdefault(int(slots), []).append(dict((k, int(v)) for k, v in re.findall(r"([a-z+-]+)=(\d+)", rest)))
stages = ("qemu+firmware", "kernel", "total")
base = {s: statistics.median(r[s] for r in runs[0]) for s in stages}
print("slots  " + "  ".join(f"{s:>22}" for s in stages))
for slots in sorted(runs):
    cells = []
    for s in stages:
        m = statistics.median(r[s] for r in runs[slots])
        cells.append(f"{m:6.0f} ms ({m - base[s]:+5.0f}, x{m / base[s]:.2f})")
    print(f"{slots:>5}  " + "  ".join(f"{c:>22}" for c in cells))
PY
