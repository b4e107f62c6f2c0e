#!/usr/bin/env bash
# Benchmark: two runcvm runtimes registered in the same dockerd (e.g. a bundle of the previous
# commit as `runcvm-old` and this build's as `runcvm`), started alternately so that both see the
# same machine: median wall time of `docker run --rm IMG true` and of runcvm-init's own start
# (RUNCVM_TIMINGS' helpers stage: launch document read → network wired → helper root → QEMU
# spawned), and the ratio of B to A. Not a timed test.
# usage: tests/bench/start_compare.sh RUNTIME_A RUNTIME_B [RUNS]   (image runcvm/busybox, TCG)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=${1:?usage: $0 RUNTIME_A RUNTIME_B [RUNS]}
B=${2:?usage: $0 RUNTIME_A RUNTIME_B [RUNS]}
RUNS=${3:-9}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian
WORK=$(mktemp -d /tmp/runcvm-bench-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for _ in $(seq "$RUNS"); do
  for runtime in "$A" "$B"; do
    start=$(now_ms)
    docker run --rm --runtime="$runtime" -e RUNCVM_QEMU_ACCEL=tcg runcvm/busybox true
    wall=$(( $(now_ms) - start ))
    helpers=$(docker run --rm --runtime="$runtime" -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TIMINGS=1 runcvm/busybox true 2>&1 |
      grep -o 'helpers=[0-9]*' | cut -d= -f2)
    echo "$runtime $wall $helpers" >>"$WORK/runs"
  done
done
python3 - "$WORK/runs" "$A" "$B" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def median(runtime, column):
    return statistics.median(int(r[column]) for r in rows if r[0] == runtime)
a, b = sys.argv[2], sys.argv[3]
for label, column in (("docker run --rm IMG true", 1), ("runcvm-init until QEMU spawned", 2)):
    ma, mb = median(a, column), median(b, column)
    print(f"{label}: {a} {ma:.0f} ms, {b} {mb:.0f} ms (x{mb / ma:.2f}, {mb - ma:+.0f} ms)")
PY
