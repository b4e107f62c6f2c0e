#!/usr/bin/env bash
# Benchmark: wall time of `docker run --rm --runtime=runcvm IMG true` under TCG per QEMU machine
# type (RUNCVM_QEMU_MACHINE: q35, pc and microvm),
# against `docker run --rm IMG true` with runc, the baseline; medians of N runs, all in this run.
# Needs a dockerd with runcvm registered (bash ci/main.sh).
# usage: tests/bench/machine_types.sh [RUNS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian


runc_ms=$(time_runs docker run --rm runcvm/busybox true)
echo "docker run --rm IMG true, runc (baseline): ${runc_ms} ms"
for machine in q35 pc microvm; do
  ms=$(time_runs docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_QEMU_MACHINE=$machine runcvm/busybox true)
  echo "RUNCVM_QEMU_MACHINE=$machine (TCG): ${ms} ms  (x$(python3 -c "print(f'{$ms/$runc_ms:.2f}')") of runc)"
done
