#!/usr/bin/env bash
# Benchmark (issue 36): `docker run --rm IMG true` with runcvm starting its VM from a template
# (the default) against runc, run after run; then the same VM booted (RUNCVM_TEMPLATE=0) and the
# first start on a host without the template (the template directory emptied before each such
# run: the template is built, then restored), each round beside a runc run of its own. Apart,
# because a boot's 5 s of TCG on every core slows the next few starts, runc's too (by about 5 %).
# Medians of RUNS runs each; ratios against runc and against the boot. Then where a restored
# VM's start goes (RUNCVM_TIMINGS=1, medians). Not a timed test.
# Needs a dockerd with runcvm registered (bash ci/main.sh). KERNEL: a bundle kernel
# (RUNCVM_KERNEL), the image's default when not given.
# usage: tests/bench/template_start.sh [RUNS] [IMAGE] [KERNEL]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-7}
IMAGE=${2:-runcvm/busybox}
KERNEL_ARGS=()
[[ -z ${3:-} ]] || KERNEL_ARGS=(-e "RUNCVM_KERNEL=$3")
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
TEMPLATES=/run/runcvm/templates
[[ $IMAGE != runcvm/busybox ]] || docker image inspect runcvm/busybox >/dev/null 2>&1 ||
  bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian
WORK=$(mktemp -d /tmp/runcvm-bench-template.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

runcvm() { docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg "${KERNEL_ARGS[@]}" "$@"; }
timed() {  # label command… : one run, appended to the runs file
  local label=$1 start
  shift
  start=$(now_ms)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  echo "$label $(( $(now_ms) - start ))" >>"$WORK/runs"
}
runcvm "$IMAGE" true >/dev/null 2>&1  # the template exists before the first measured restore
for _ in $(seq "$RUNS"); do
  timed runc docker run --rm "$IMAGE" true
  timed template runcvm "$IMAGE" true
  runcvm -e RUNCVM_TIMINGS=1 "$IMAGE" true 2>&1 >/dev/null | grep '^runcvm: timings' >>"$WORK/timings" || true
done
for _ in $(seq "$RUNS"); do
  timed runc_beside_boots docker run --rm "$IMAGE" true
  timed boot runcvm -e RUNCVM_TEMPLATE=0 "$IMAGE" true
  rm -rf "${TEMPLATES:?}"/*
  timed first runcvm "$IMAGE" true
done
python3 - "$WORK/runs" "$WORK/timings" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, ms = line.split()
    runs.setdefault(label, []).append(int(ms))
m = {label: statistics.median(values) for label, values in runs.items()}
print(f"docker run --rm IMG true, medians of {len(runs['runc'])} runs:")
print(f"  runc:                               {m['runc']:6.0f} ms")
print(f"  runcvm, from the template:          {m['template']:6.0f} ms  x{m['template'] / m['runc']:.2f} runc")
print(f"  runc, beside the boots:             {m['runc_beside_boots']:6.0f} ms")
print(f"  runcvm, booted (RUNCVM_TEMPLATE=0): {m['boot']:6.0f} ms  x{m['boot'] / m['runc_beside_boots']:.2f} runc, "
      f"the template x{m['template'] / m['boot']:.2f} of it ({m['template'] - m['boot']:+.0f} ms)")
print(f"  runcvm, first start (builds it):    {m['first']:6.0f} ms  {m['first'] - m['boot']:+.0f} ms over the boot")
stages = {}
for line in open(sys.argv[2]):
    for field in line.split(":", 2)[2].split():
        key, value = field.split("=")
        if key not in ("started_at", "ended_at"):
            stages.setdefault(key, []).append(int(value))
if stages:
    print("a restored VM's start (RUNCVM_TIMINGS=1, medians, ms): " +
          " ".join(f"{k}={statistics.median(v):.0f}" for k, v in stages.items()))
PY
