#!/usr/bin/env bash
# End to end through docker run: faults end promptly, in one line on the container's stderr that
# names what failed, never in a hang. QEMU killed (exit 128 + the signal; docker start boots the
# container again), virtiofsd killed (the VM is ended rather than left waiting on its root), the
# guest's kernel panicking (QEMU's panic device), and docker rm -f while the VM boots (nothing of
# the container left running on the host), a disk whose backing filesystem fills (the write fails in
# the VM, which runs on), and a bundle half removed (one line at create).
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/faults debian
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The container's helpers on the host: the children of its runcvm-init whose command line matches.
helper_pids() {  # container, pattern
  local init child
  init=$(docker inspect -f '{{.State.Pid}}' "$1")
  for child in $(cat /proc/"$init"/task/*/children); do
    tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null | grep -q -- "$2" && echo "$child"
  done
  return 0
}
wait_for_vm() {  # container: until docker exec runs in the VM
  for _ in $(seq 120); do docker exec "$1" true 2>/dev/null && return 0; sleep 1; done
  fail "the VM of $1 did not come up: $(docker logs "$1" 2>&1 | tail -3)"
}

for victim in qemu-system-x86_64:QEMU virtiofsd:virtiofsd; do
  pattern=${victim%%:*} name=${victim#*:}
  id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/faults sleep 100000)
  on_exit "docker rm -f $id >/dev/null 2>&1"
  wait_for_vm "$id"
  pid=$(helper_pids "$id" "$pattern")
  [[ -n "$pid" ]] || fail "no $name process under the container's runcvm-init"
  helpers=$(helper_pids "$id" .)
  start=$(now_ms)
  kill -9 "$pid"
  rc=$(timeout 30 docker wait "$id") || fail "the container did not end within 30 s of $name's SIGKILL"
  took=$(( $(now_ms) - start ))
  (( took <= 2000 )) || fail "the container took $took ms to end after $name's SIGKILL (at most 2000)"
  [[ $rc -eq 137 ]] || fail "$name killed: exit $rc, expected 137 (128 + SIGKILL)"
  err=$(docker logs "$id" 2>&1 >/dev/null | grep runcvm-init)
  assert_contains "$err" "runcvm-init: error: $name" "$name killed"
  assert_contains "$err" "killed by signal 9" "$name killed"
  [[ $(grep -c '' <<<"$err") -eq 1 ]] || fail "$name killed: expected one line from runcvm-init, got: $err"
  # Nothing of the VM is left: the other helper went with it.
  for helper in $helpers; do
    [[ ! -e /proc/$helper ]] || fail "$name killed: $(tr '\0' ' ' </proc/"$helper"/cmdline) is left running"
  done
  docker start "$id" >/dev/null
  wait_for_vm "$id"
  [[ "$(docker exec "$id" echo again)" == again ]] || fail "docker start after $name's SIGKILL"
  docker rm -f "$id" >/dev/null
  pass "$name killed with SIGKILL: the container ends in $took ms with exit 137 and one line ($err); docker start boots it again"
done

# The guest's kernel panics: QEMU's panic device ends the VM, and the container's exit says so.
rc=0
err=$(timeout 120 docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/faults \
  sh -c 'echo c >/proc/sysrq-trigger; sleep 30; echo survived' 2>&1) || rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a kernel panic in the VM: exit $rc, output: $err"
[[ "$err" == "runcvm-init: error: the VM's kernel panicked (RUNCVM_KERNEL_DEBUG=1 shows its console)" ]] ||
  fail "a kernel panic in the VM: $err"
pass "the guest's kernel panics: exit $rc, one line: $err"

# docker rm -f while the VM boots: prompt, and none of the container's helpers outlive it.
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/faults sleep 100000)
for _ in $(seq 100); do [[ -n "$(helper_pids "$id" qemu-system)" ]] && break; sleep 0.1; done
pids=$(helper_pids "$id" .)
[[ -n "$pids" ]] || fail "docker rm -f while booting: no helpers found under runcvm-init"
start=$(now_ms)
timeout 30 docker rm -f "$id" >/dev/null || fail "docker rm -f while the VM boots did not return within 30 s"
took=$(( $(now_ms) - start ))
for pid in $pids; do
  [[ ! -e /proc/$pid ]] || fail "docker rm -f while booting: helper $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline)) is left"
done
pass "docker rm -f while the VM boots returns in $took ms; its helpers ($(wc -w <<<"$pids")) are gone"

# A RUNCVM_DISKS backing file whose filesystem fills: the write fails in the VM (virtio-blk reports
# an I/O error: it has no status for "no space"; ext4 then turns the disk read-only), the VM runs
# on to the workload's end, and the disk passes e2fsck once its journal is replayed. QEMU's default
# would pause the VM on ENOSPC and nothing would resume it: the container would hang.
truncate -s 40M "$SCRATCH/small.img"
mkfs.ext4 -q "$SCRATCH/small.img"
mkdir -p "$SCRATCH/small"
mount -o loop "$SCRATCH/small.img" "$SCRATCH/small"
rc=0
out=$(timeout 300 docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -v "$SCRATCH/small:/disks" \
  -e RUNCVM_DISKS=/disks/d,/data,ext4,128M runcvm-test/faults \
  sh -c 'head -c 60000000 /dev/urandom >/data/big; sync; touch /data/after 2>&1; echo ran-on') || rc=$?
[[ $rc -ne 124 ]] || fail "a disk whose backing filesystem filled: the container hung"
assert_contains "$out" "ran-on" "a disk whose backing filesystem filled"
assert_contains "$out" "Read-only file system" "a disk whose backing filesystem filled"
fsck_rc=0
e2fsck -fp "$SCRATCH/small/d" >/dev/null 2>&1 || fsck_rc=$?
(( fsck_rc <= 1 )) || fail "the disk after its backing filesystem filled: e2fsck -fp exit $fsck_rc"
e2fsck -fn "$SCRATCH/small/d" >/dev/null 2>&1 || fail "the disk after its backing filesystem filled: not clean after e2fsck -fp"
umount "$SCRATCH/small"
pass "a RUNCVM_DISKS backing file on a full filesystem: the write fails in the VM, the VM runs on (exit $rc), e2fsck passes"

# A bundle half removed (here its virtiofsd): docker run fails at create, in one line naming the
# bundle and what is missing, before anything starts.
mv "$BUNDLE/libexec/virtiofsd" "$BUNDLE/libexec/virtiofsd.away"
on_exit "mv $BUNDLE/libexec/virtiofsd.away $BUNDLE/libexec/virtiofsd 2>/dev/null"
rc=0
err=$(docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/faults true 2>&1) || rc=$?
mv "$BUNDLE/libexec/virtiofsd.away" "$BUNDLE/libexec/virtiofsd"
[[ $rc -eq 125 ]] || fail "a bundle without virtiofsd: exit $rc, expected docker's 125 (output: $err)"
assert_contains "$err" "the runcvm bundle \"$BUNDLE\" is incomplete: libexec/virtiofsd missing" "a bundle without virtiofsd"
# docker adds its usage hint below; the runtime's error is its first line, whole.
[[ "$(head -1 <<<"$err")" == *"is incomplete: libexec/virtiofsd missing (hint: install the bundle again)"* ]] ||
  fail "a bundle without virtiofsd: the error is not one line: $err"
pass "a bundle without its virtiofsd: docker run fails at create (exit 125) in one line naming it"
