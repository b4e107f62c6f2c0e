#!/usr/bin/env bash
# The VM's clock is the host's (channel/clock_sync.hpp), measured as a round trip through docker
# exec with both clocks read around it (tests/fixtures/clock-probe): within 50 ms right after the
# start, after a 30 s `docker pause` (the guest's TSC counts on while QEMU is frozen), and after the
# host's clock is stepped forward and back by a second (the host's clock is put back by the same
# step, at once, and on any exit of the test). The workload's stdout and stderr stay its own.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/clock debian
PROBE="$BUILD_DIR/tests/runcvm-clock-probe"
LIMIT_MS=50

id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -v "$BUILD_DIR/tests:/probe:ro" runcvm-test/clock sleep 100000)
on_exit "docker rm -f $id >/dev/null 2>&1"

# The offset (ms, the VM's clock minus the host's) and round trip of the best of 20 round trips.
measure() { "$PROBE" measure 20 docker exec -i "$id" /probe/runcvm-clock-probe serve; }
offset_of() { sed -n 's/^offset_ms=\([-0-9.]*\) .*/\1/p' <<<"$1"; }
within_limit() { awk -v o="$(offset_of "$1")" -v l="$LIMIT_MS" 'BEGIN { exit !(o <= l && o >= -l) }'; }
# Measures until the offset is within the limit or `tries` measurements have been made.
settle() {  # what tries
  local what=$1 tries=$2 out started
  started=$(date +%s%N)
  for _ in $(seq "$tries"); do
    out=$(measure) || fail "$what: the probe failed: $out"
    within_limit "$out" && {
      pass "$what: the VM's clock is within ${LIMIT_MS} ms of the host's ($out, measured $(( ($(date +%s%N) - started) / 1000000 )) ms after)"
      return 0
    }
  done
  fail "$what: the VM's clock is off by more than ${LIMIT_MS} ms: $out"
}

docker exec "$id" true  # waits for the VM's exec agent
settle "right after the start" 1

docker pause "$id" >/dev/null
sleep 30
docker unpause "$id" >/dev/null
settle "after a 30 s docker pause" 1

# The host's clock one second ahead, then back: the VM follows both steps (the second one takes
# its CLOCK_REALTIME backwards; its CLOCK_MONOTONIC goes on).
HOST_CLOCK_AHEAD=0
step_host_clock() {
  date -s "@$(awk -v s="$1" -v now="$(date +%s.%N)" 'BEGIN { printf "%.9f", now + s }')" >/dev/null
  HOST_CLOCK_AHEAD=$((HOST_CLOCK_AHEAD + $1))
}
on_exit '[[ $HOST_CLOCK_AHEAD -eq 0 ]] || step_host_clock $((-HOST_CLOCK_AHEAD))'
monotonic_before=$(docker exec "$id" cut -d' ' -f1 /proc/uptime)
step_host_clock 1
settle "after the host's clock stepped 1 s forward" 3
step_host_clock -1
settle "after the host's clock stepped 1 s back" 3
monotonic_after=$(docker exec "$id" cut -d' ' -f1 /proc/uptime)
awk -v a="$monotonic_before" -v b="$monotonic_after" 'BEGIN { exit !(b > a) }' \
  || fail "the VM's uptime went from $monotonic_before to $monotonic_after s"
pass "the VM's uptime went on across the steps ($monotonic_before → $monotonic_after s)"

logs=$(docker logs "$id" 2>&1)
[[ -z "$logs" ]] || fail "runcvm wrote to the workload's stdout or stderr: $logs"
pass "the workload's stdout and stderr hold nothing of runcvm's"
