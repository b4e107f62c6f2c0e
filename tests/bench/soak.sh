#!/usr/bin/env bash
# Soak: one VM container serving HTTP on a published loopback port for MINUTES while, beside it,
# a client fetches a page in a loop and another runs `docker exec` in a loop (one at a time). At
# the end: every request answered with the whole page, every exec's output right, and the growth
# of runcvm-init's and QEMU's resident memory and open descriptors from after a warm-up to the end,
# each against a stated bound (the run fails beyond it). A runc container under the same loops is
# the baseline for the request and exec rates.
# Needs a dockerd with runcvm registered (bash ci/main.sh). usage: tests/bench/soak.sh [MINUTES] (10)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
MINUTES=${1:-10}
# The bounds: runcvm-init is a relay and must not grow. QEMU's own (anonymous) memory holds TCG's
# translation cache, which fills as the guest runs new code, up to its size (128 MiB, vm_command.cpp),
# plus a little heap; the guest's RAM (shared memory) is bounded by the VM's memory size itself.
INIT_RSS_BOUND_KIB=1024
QEMU_ANON_BOUND_KIB=$((160 * 1024))
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; docker rm -f runcvm-soak-vm runcvm-soak-runc >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

serve='mkdir -p /www && seq 1 5000 >/www/index.html && exec httpd -f -p 80 -h /www'
seq 1 5000 >"$WORK/page"
rss_kib() { awk -v field="${2:-VmRSS}:" '$1 == field {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

# Loops against container $1 (port $2) for $3 seconds; prints "requests failures execs exec_failures".
loops() {
  local c=$1 port=$2 seconds=$3
  local end=$(( $(date +%s) + seconds ))
  ( n=0 bad=0
    while (( $(date +%s) < end )); do
      n=$((n + 1))
      curl -sf --max-time 10 "http://127.0.0.1:$port/" -o "$WORK/got.$c" && cmp -s "$WORK/got.$c" "$WORK/page" || bad=$((bad + 1))
    done
    echo "$n $bad" >"$WORK/http.$c" ) &
  local http=$!
  local n=0 bad=0
  while (( $(date +%s) < end )); do
    n=$((n + 1))
    [[ "$(docker exec "$c" sh -c 'echo $((6 * 7))' 2>/dev/null)" == 42 ]] || bad=$((bad + 1))
  done
  wait "$http"
  echo "$(cat "$WORK/http.$c") $n $bad"
}

docker run -d --name runcvm-soak-runc -p 127.0.0.1:18091:80 runcvm/busybox sh -c "$serve" >/dev/null
docker run -d --name runcvm-soak-vm --runtime=runcvm -e RUNCVM_QEMU_ACCEL="${RUNCVM_QEMU_ACCEL:-tcg}" \
  -p 127.0.0.1:18092:80 runcvm/busybox sh -c "$serve" >/dev/null
for _ in $(seq 120); do curl -sf -o /dev/null http://127.0.0.1:18092/ && break; sleep 1; done
init=$(docker inspect -f '{{.State.Pid}}' runcvm-soak-vm)
qemu=$(for child in $(cat /proc/"$init"/task/*/children); do
  tr '\0' ' ' <"/proc/$child/cmdline" | grep -q qemu-system && echo "$child"; done)
[[ -n "$qemu" ]] || { echo "no QEMU under runcvm-init $init" >&2; exit 1; }

read -r runc_requests runc_bad runc_execs runc_exec_bad < <(loops runcvm-soak-runc 18091 60)
loops runcvm-soak-vm 18092 30 >/dev/null  # warm-up: the guest's code paths translated once
init_rss0=$(rss_kib "$init") init_fds0=$(fds "$init") qemu_fds0=$(fds "$qemu")
qemu_anon0=$(rss_kib "$qemu" RssAnon) qemu_shmem0=$(rss_kib "$qemu" RssShmem)
read -r requests bad execs exec_bad < <(loops runcvm-soak-vm 18092 $((MINUTES * 60)))
init_rss1=$(rss_kib "$init") init_fds1=$(fds "$init") qemu_fds1=$(fds "$qemu")
qemu_anon1=$(rss_kib "$qemu" RssAnon) qemu_shmem1=$(rss_kib "$qemu" RssShmem)

echo "runc (baseline, 60 s): $runc_requests requests ($runc_bad failed), $runc_execs execs ($runc_exec_bad failed)"
echo "runcvm ($MINUTES min): $requests requests ($bad failed), $execs execs ($exec_bad failed);" \
  "rates x$(python3 -c "print(f'{($requests / ($MINUTES * 60)) / ($runc_requests / 60):.2f}')") (HTTP)," \
  "x$(python3 -c "print(f'{($execs / ($MINUTES * 60)) / ($runc_execs / 60):.2f}')") (exec) of runc's"
echo "runcvm-init: RSS ${init_rss0} -> ${init_rss1} KiB (bound +${INIT_RSS_BOUND_KIB}), fds ${init_fds0} -> ${init_fds1}"
echo "QEMU: own memory (RssAnon) ${qemu_anon0} -> ${qemu_anon1} KiB (bound +${QEMU_ANON_BOUND_KIB}), guest RAM touched (RssShmem) ${qemu_shmem0} -> ${qemu_shmem1} KiB, fds ${qemu_fds0} -> ${qemu_fds1}"
status=0
(( bad == 0 && exec_bad == 0 )) || { echo "FAIL: failed requests or execs" >&2; status=1; }
(( init_rss1 - init_rss0 <= INIT_RSS_BOUND_KIB )) || { echo "FAIL: runcvm-init grew beyond its bound" >&2; status=1; }
(( qemu_anon1 - qemu_anon0 <= QEMU_ANON_BOUND_KIB )) || { echo "FAIL: QEMU grew beyond its bound" >&2; status=1; }
(( init_fds1 == init_fds0 && qemu_fds1 == qemu_fds0 )) || { echo "FAIL: descriptors leaked" >&2; status=1; }
exit $status
