#!/usr/bin/env bash
# Benchmark: what runcvm-runtime adds to each `create` (not a timed test).
#   1. the wrapper alone: runcvm-runtime with a do-nothing runc (/bin/true) against /bin/true;
#      this is parse + facts + transform + writing the spec and launch document + exec;
#   2. end to end: `runc create` + `runc delete` through runcvm-runtime against runc directly.
# usage: tests/bench/runtime.sh BUILD_DIR [ITERATIONS]   (root; needs runc and busybox-static)
set -euo pipefail
BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR [ITERATIONS]}" && pwd)
N=${2:-100}
WORK=$(mktemp -d /tmp/runcvm-bench-runtime.XXXXXX)
trap 'runc --root "$WORK/state" delete -f bench 2>/dev/null || true; rm -rf "$WORK"' EXIT

# A bundle laid out like /opt/runcvm, and an OCI bundle with a busybox rootfs.
mkdir -p "$WORK/opt/bin" "$WORK/opt/kernels/debian/6.1.0-56-amd64/modules" "$WORK/oci/rootfs/bin" "$WORK/state"
cp "$BUILD_DIR/bin/runcvm-runtime" "$WORK/opt/bin/"
cp "$BUILD_DIR/tests/runcvm-test-init" "$WORK/opt/bin/runcvm-init"
ln -s 6.1.0-56-amd64 "$WORK/opt/kernels/debian/latest"
cp /bin/busybox "$WORK/oci/rootfs/bin/"
ln -s busybox "$WORK/oci/rootfs/bin/sh"
(cd "$WORK/oci" && runc spec && python3 - <<'PY'
import json
spec = json.load(open("config.json"))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/sh", "-c", "sleep 1"]
json.dump(spec, open("config.json", "w"))
PY
)
cp "$WORK/oci/config.json" "$WORK/config.original"
RUNTIME="$WORK/opt/bin/runcvm-runtime"

now_ns() { date +%s%N; }
per_call_ms() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e6 / int(sys.argv[3]):.2f}')" "$@"; }

# 1. The wrapper alone.
start=$(now_ns)
for _ in $(seq "$N"); do cp "$WORK/config.original" "$WORK/oci/config.json"; /bin/true create --bundle "$WORK/oci" bench; done
base=$(per_call_ms "$start" "$(now_ns)" "$N")
start=$(now_ns)
for _ in $(seq "$N"); do
  cp "$WORK/config.original" "$WORK/oci/config.json"
  "$RUNTIME" --runcvm-runc=/bin/true create --bundle "$WORK/oci" bench
done
wrapped=$(per_call_ms "$start" "$(now_ns)" "$N")
echo "wrapper alone: /bin/true ${base} ms per call; runcvm-runtime -> /bin/true ${wrapped} ms per call"
echo "  added by the wrapper: $(python3 -c "print(f'{$wrapped - $base:.2f}')") ms per create (target: under 5 ms)"

# 2. End to end with runc.
run_creates() {  # runtime…
  local start
  start=$(now_ns)
  for _ in $(seq "$N"); do
    cp "$WORK/config.original" "$WORK/oci/config.json"
    "$@" --root "$WORK/state" create --bundle "$WORK/oci" bench >/dev/null
    runc --root "$WORK/state" delete -f bench
  done
  per_call_ms "$start" "$(now_ns)" "$N"
}
runc_ms=$(run_creates runc)
ours_ms=$(run_creates "$RUNTIME" --runcvm-runc="$(command -v runc)")
echo "runc create + delete: ${runc_ms} ms; through runcvm-runtime: ${ours_ms} ms (x$(python3 -c "print(f'{$ours_ms / $runc_ms:.2f}')"))"
