#!/usr/bin/env bash
# Benchmark: N VM containers started at once (`docker run --runtime=runcvm -m 128m`, TCG), for each
# N given: the wall time until all have ended, against the same N started at once with runc (the
# baseline) in the same run, and the host's peak memory above what it used before (MemTotal -
# MemAvailable, sampled every 200 ms). Each container prints the same 109 KB (`seq 1 20000`); the
# run fails unless every output arrives whole.
# Needs a dockerd with runcvm registered (bash ci/main.sh). usage: tests/bench/load.sh [N…] (4 8 16)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
COUNTS=("${@:-4 8 16}")
read -ra COUNTS <<<"${COUNTS[*]}"
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian
WORK=$(mktemp -d)
trap 'kill $SAMPLER 2>/dev/null || true; rm -rf "$WORK"' EXIT
SAMPLER=
expected=$(seq 1 20000 | sha256sum | cut -d' ' -f1)

used_kib() { awk '/^MemTotal:/ {t = $2} /^MemAvailable:/ {a = $2} END {print t - a}' /proc/meminfo; }
sample_peak() {  # writes the highest reading to $1 until killed
  local peak=0 now
  while :; do
    now=$(used_kib)
    (( now > peak )) && { peak=$now; echo "$peak" >"$1"; }
    sleep 0.2
  done
}

# N containers at once; prints "wall_ms peak_kib_above_before"; fails on any damaged output.
run_at_once() {  # n docker-run-args…
  local n=$1 before start pids=() i
  shift
  sync; before=$(used_kib)
  echo "$before" >"$WORK/peak"
  sample_peak "$WORK/peak" & SAMPLER=$!
  start=$(now_ms)
  for i in $(seq "$n"); do
    docker run --rm "$@" runcvm/busybox seq 1 20000 >"$WORK/out.$i" 2>"$WORK/err.$i" & pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "container $((i + 1)) of $n failed: $(head -3 "$WORK/err.$((i + 1))")" >&2; exit 1; }
  done
  local wall=$(( $(now_ms) - start ))
  kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
  for i in $(seq "$n"); do
    [[ "$(sha256sum <"$WORK/out.$i" | cut -d' ' -f1)" == "$expected" ]] ||
      { echo "container $i of $n: its output is damaged ($(wc -c <"$WORK/out.$i") bytes)" >&2; exit 1; }
  done
  echo "$wall $(( $(cat "$WORK/peak") - before ))"
}

for n in "${COUNTS[@]}"; do
  read -r runc_ms runc_kib < <(run_at_once "$n")
  read -r vm_ms vm_kib < <(run_at_once "$n" --runtime=runcvm -e RUNCVM_QEMU_ACCEL="${RUNCVM_QEMU_ACCEL:-tcg}" -m 128m)
  echo "N=$n at once: runc (baseline) ${runc_ms} ms, peak +$((runc_kib / 1024)) MiB; runcvm -m 128m ${vm_ms} ms" \
    "(x$(python3 -c "print(f'{$vm_ms/$runc_ms:.1f}')") of runc), peak +$((vm_kib / 1024)) MiB" \
    "($((vm_kib / 1024 / n)) MiB per VM); $n of $n outputs whole"
done
