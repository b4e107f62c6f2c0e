#!/usr/bin/env bash
# Benchmark (issue 39): memory the guest frees goes back to the host (RUNCVM_BALLOON, free page
# reporting), against runc and against the VM without the balloon (RUNCVM_BALLOON=0), in one run.
#  1. One container (-m 1g, --tmpfs /big): its memory cgroup and QEMU's RSS idle, after writing
#     500 MB into the tmpfs, and 10 s and 30 s after deleting it.
#  2. N containers (8) that each write 300 MB and delete it, then idle 60 s: the sum of their
#     memory cgroups, and how much the host's used memory (MemTotal - MemAvailable) rose.
#  3. The cost: ROUNDS rounds of writing 300 MB and deleting it, timed, back to back and with a
#     pause after each (the guest reports during the pause, and the next round faults the pages in
#     again); and `docker run --rm IMG true`, medians of 5.
# Needs a dockerd with runcvm registered (bash ci/main.sh). Not a timed test.
# usage: tests/bench/balloon.sh [N] [ROUNDS] [IMAGE]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE_DIR/tests/lib/cgroup_memory.sh"
N=${1:-8}
ROUNDS=${2:-5}
IMAGE=${3:-runcvm/busybox}
[[ $IMAGE != runcvm/busybox ]] || docker image inspect runcvm/busybox >/dev/null 2>&1 ||
  bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian
LABEL=runcvm-bench=balloon
trap 'docker ps -aq --filter "label=$LABEL" | xargs -r docker rm -f >/dev/null 2>&1' EXIT

declare -A RUN_ARGS=(
  [runc]=""
  [balloon]="--runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg"
  [no-balloon]="--runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_BALLOON=0"
)
KINDS=(runc balloon no-balloon)
start() {  # kind size_mib -> id, running
  local id
  # shellcheck disable=SC2086 # the kind's options are words
  id=$(docker run -d --label "$LABEL" ${RUN_ARGS[$1]} -m 1g --tmpfs "/big:size=${2}m" "$IMAGE" sleep 100000)
  for _ in $(seq 120); do docker exec "$id" true 2>/dev/null && break; sleep 1; done
  echo "$id"
}
qemu_rss_mib() {  # id -> QEMU's VmRSS (0 under runc)
  local init child
  init=$(docker inspect -f '{{.State.Pid}}' "$1")
  for child in $(cat /proc/"$init"/task/*/children); do
    if tr '\0' ' ' <"/proc/$child/cmdline" | grep -q qemu-system; then
      awk '$1 == "VmRSS:" {print int($2 / 1024)}' "/proc/$child/status"
      return
    fi
  done
  echo 0
}
both() { echo "$(container_memory_mib "$1")/$(qemu_rss_mib "$1")"; }
write() { docker exec "$1" dd if=/dev/zero of=/big/f bs=1M count="$2" 2>/dev/null; }
host_used_mib() { awk '$1 == "MemTotal:" {t = $2} $1 == "MemAvailable:" {a = $2} END {print int((t - a) / 1024)}' /proc/meminfo; }

echo "1. one container, -m 1g: container's memory cgroup / QEMU's RSS, MiB"
printf '%-11s %10s %14s %14s %14s\n' kind idle "500 MB written" "10 s after rm" "30 s after rm"
for kind in "${KINDS[@]}"; do
  id=$(start "$kind" 700)
  sleep 5
  idle=$(both "$id")
  write "$id" 500
  written=$(both "$id")
  docker exec "$id" rm /big/f
  sleep 10
  after10=$(both "$id")
  sleep 20
  printf '%-11s %10s %14s %14s %14s\n' "$kind" "$idle" "$written" "$after10" "$(both "$id")"
  docker rm -f "$id" >/dev/null
done

echo "2. $N containers, -m 1g, each writes 300 MB and deletes it, then 60 s idle"
for kind in "${KINDS[@]}"; do
  before=$(host_used_mib)
  group=()
  for _ in $(seq "$N"); do group+=("$(start "$kind" 400)"); done
  for id in "${group[@]}"; do write "$id" 300 && docker exec "$id" rm /big/f; done
  sleep 60
  sum=0
  for id in "${group[@]}"; do sum=$((sum + $(container_memory_mib "$id"))); done
  echo "$kind: containers' memory $sum MiB in all ($((sum / N)) MiB each); the host's used memory rose by $(($(host_used_mib) - before)) MiB"
  docker rm -f "${group[@]}" >/dev/null
done

echo "3. the cost: $ROUNDS rounds of writing 300 MB into the VM's tmpfs and deleting it (ms in all)"
declare -A took
for kind in balloon no-balloon; do
  id=$(start "$kind" 400)
  for pause in 0 4; do
    total=0
    for _ in $(seq "$ROUNDS"); do
      begin=$(now_ms)
      write "$id" 300
      total=$((total + $(now_ms) - begin))
      docker exec "$id" rm /big/f
      sleep "$pause"
    done
    took[$kind/$pause]=$total
  done
  docker rm -f "$id" >/dev/null
done
for pause in 0 4; do
  echo "pause ${pause} s: balloon ${took[balloon/$pause]}, no-balloon ${took[no-balloon/$pause]}:" \
    "×$(awk -v a="${took[balloon/$pause]}" -v b="${took[no-balloon/$pause]}" 'BEGIN {printf "%.2f", a / b}') of no-balloon"
done
# Interleaved, so that both see the same machine; each kind's template exists before.
starts=()
for kind in balloon no-balloon; do
  # shellcheck disable=SC2086 # the kind's options are words
  docker run --rm ${RUN_ARGS[$kind]} "$IMAGE" true >/dev/null 2>&1
done
for _ in $(seq 5); do
  for kind in balloon no-balloon; do
    begin=$(now_ms)
    # shellcheck disable=SC2086
    docker run --rm ${RUN_ARGS[$kind]} "$IMAGE" true >/dev/null 2>&1
    starts+=("$kind $(($(now_ms) - begin))")
  done
done
for kind in balloon no-balloon; do
  took[start/$kind]=$(printf '%s\n' "${starts[@]}" | awk -v k="$kind" '$1 == k {printf "%s ", $2}' | median)
done
echo "docker run --rm $IMAGE true (median of 5): balloon ${took[start/balloon]} ms, no-balloon" \
  "${took[start/no-balloon]} ms: ×$(awk -v a="${took[start/balloon]}" -v b="${took[start/no-balloon]}" 'BEGIN {printf "%.2f", a / b}')"
