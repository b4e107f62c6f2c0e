#!/usr/bin/env bash
# End to end through docker run: faults end promptly, in one line on the container's stderr that
# names what failed, never in a hang. QEMU killed (exit 128 + the signal; docker start boots the
# container again), QEMU crashing while the VM boots (started again), virtiofsd killed (the VM
# is ended rather than left waiting on its root), the guest's kernel panicking (QEMU's panic
# device), and docker rm -f while the VM boots (nothing of the container left running on the host),
# a disk whose backing filesystem fills (the write fails in the VM, which runs on), and a bundle
# half removed (one line at create); docker rm -f during heavy output; garbage on runcvm-init's exec
# port (a notice; the workload runs on). The workload exceeding -m in the VM (the guest's OOM
# killer: exit 137), docker kill of six VMs at once (none left), dockerd restarted with live-restore
# (the VM runs on; exec and logs work after), and a /dev/kvm that cannot boot the VM (the first
# container finds out, later ones start under TCG at once; the notices stay off the workload's
# stderr; the verdict is out of the VM's reach).
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm '"live-restore": true'
import_busybox_image runcvm-test/faults debian
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# docker rm -f of a container, which must return within 30 s and leave none of its helpers and no
# mount naming it. Sets TOOK (ms) and HELPERS (how many there were).
remove_promptly() {  # container what
  local pids start pid
  pids=$(helper_pids "$1" .)
  [[ -n "$pids" ]] || fail "$2: no helpers found under runcvm-init"
  start=$(now_ms)
  timeout 30 docker rm -f "$1" >/dev/null || fail "$2: docker rm -f did not return within 30 s"
  TOOK=$(( $(now_ms) - start )) HELPERS=$(wc -w <<<"$pids")
  for pid in $pids; do
    [[ ! -e /proc/$pid ]] || fail "$2: helper $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline)) is left"
  done
  ! grep -q "$1" /proc/mounts || fail "$2: a mount of $1 is left: $(grep "$1" /proc/mounts | head -1)"
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

# QEMU crashing while the VM boots (Debian's QEMU 7.2 has a rare segfault under TCG; here a SIGSEGV
# sent to it before the guest's init has spoken): runcvm-init starts the VM again, with a
# notice in its log and nothing on the workload's output; the workload runs once. A booted VM's
# QEMU (a restored one's crash boots the VM: runtime_template.sh).
id=$(docker create --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TEMPLATE=0 runcvm-test/faults \
  sh -c 'echo ran >>/runs; echo started; exec sleep 100000')
on_exit "docker rm -f $id >/dev/null 2>&1"
docker start "$id" >/dev/null
init=$(docker inspect -f '{{.State.Pid}}' "$id")
crashed=$(first_qemu_pid "$init")
[[ -n "$crashed" ]] || fail "QEMU crashing while the VM boots: no QEMU appeared under runcvm-init"
kill -SEGV "$crashed"
wait_for_vm "$id"
[[ "$(docker exec "$id" cat /runs)" == ran ]] || fail "QEMU crashing while the VM boots: the workload's runs: $(docker exec "$id" cat /runs)"
[[ "$(docker logs "$id" 2>&1)" == started ]] || fail "QEMU crashing while the VM boots: the container's output: $(docker logs "$id" 2>&1)"
qemu=$(helper_pids "$id" qemu-system)
[[ -n "$qemu" && "$qemu" != "$crashed" ]] || fail "QEMU crashing while the VM boots: QEMU now $qemu, crashed $crashed"
notice=$(grep "QEMU was killed by signal" "/proc/$init/root/.runcvm/runcvm-init.log" || true)
assert_contains "$notice" "killed by signal 11 (Segmentation fault) while the VM booted, before the workload started: starting the VM again" "QEMU crashing while the VM boots"
docker rm -f "$id" >/dev/null
pass "QEMU crashing while the VM boots: started again (\"$notice\"); the workload ran once, its output intact"

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
remove_promptly "$id" "docker rm -f while the VM boots"
pass "docker rm -f while the VM boots returns in $TOOK ms; its helpers ($HELPERS) and mounts are gone"

# docker rm -f during heavy output (the workload writing to stdout as fast as it can): as prompt,
# and nothing of the container left: no helper, no mount.
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/faults sh -c 'while :; do cat /bin/busybox; done')
log=$(docker inspect -f '{{.LogPath}}' "$id")
for _ in $(seq 120); do (( $(stat -c %s "$log" 2>/dev/null || echo 0) > 4000000 )) && break; sleep 0.5; done
(( $(stat -c %s "$log") > 4000000 )) || fail "docker rm -f during heavy output: the workload's output did not flow"
remove_promptly "$id" "docker rm -f during heavy output"
pass "docker rm -f during heavy output returns in $TOOK ms; its helpers ($HELPERS) and mounts are gone"

# Garbage on runcvm-init's exec port from a root workload that took the port over (it killed the
# VM's exec agent): runcvm-init stops reading that port with a notice in its log, and the workload
# runs on to its own end, its output and exit status intact.
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/faults sh -c '
  echo before
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" != 1 ] && [ "$(cat "$p/comm" 2>/dev/null)" = runcvm-vm-init ] && kill -9 "$pid"
  done
  sleep 1
  for d in /sys/class/virtio-ports/*; do
    [ "$(cat "$d/name")" = org.runcvm.exec ] && printf "\377\377\377\377\377garbage" >"/dev/${d##*/}" && echo sent
  done
  sleep 4
  echo after
  exit 7')
on_exit "docker rm -f $id >/dev/null 2>&1"
init=$(docker inspect -f '{{.State.Pid}}' "$id")
notice=""
for _ in $(seq 240); do
  notice=$(grep -s "malformed frame on the exec port" "/proc/$init/root/.runcvm/runcvm-init.log" || true)
  [[ -n "$notice" ]] && break
  sleep 0.5
done
[[ -n "$notice" ]] || fail "garbage on the exec port: no notice in runcvm-init's log: $(cat "/proc/$init/root/.runcvm/runcvm-init.log" 2>&1); the workload said: $(docker logs "$id" 2>&1)"
rc=$(timeout 120 docker wait "$id") || fail "garbage on the exec port: the container did not end"
[[ $rc -eq 7 ]] || fail "garbage on the exec port: exit $rc, expected the workload's 7"
[[ "$(docker logs "$id" 2>&1)" == $'before\nsent\nafter' ]] || fail "garbage on the exec port: the workload's output: $(docker logs "$id" 2>&1)"
docker rm "$id" >/dev/null
pass "garbage on the exec port: runcvm-init logged \"$notice\"; the workload ran on (exit 7, output intact)"

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

# QEMU refusing its configuration (here: the bundle lost the keymap its VNC server reads) exits 1,
# as the panic device does: the container says which may have happened, never that the kernel
# surely panicked, and QEMU's own line stays above.
mv "$BUNDLE/share/qemu/keymaps/en-us" "$BUNDLE/share/qemu/keymaps/en-us.away"
on_exit "mv $BUNDLE/share/qemu/keymaps/en-us.away $BUNDLE/share/qemu/keymaps/en-us 2>/dev/null"
rc=0
err=$(timeout 120 docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_DISPLAY_MODE=vnc \
  runcvm-test/faults echo unreachable 2>&1) || rc=$?
mv "$BUNDLE/share/qemu/keymaps/en-us.away" "$BUNDLE/share/qemu/keymaps/en-us"
[[ $rc -eq 1 ]] || fail "QEMU refusing its configuration: exit $rc, expected 1 (output: $err)"
assert_contains "$err" "could not read keymap file" "QEMU refusing its configuration"
assert_contains "$err" "runcvm-init: error: QEMU exited with status 1 before the VM's init started" \
  "QEMU refusing its configuration"
[[ "$err" != *"kernel panicked (RUNCVM"* && "$err" != *unreachable* ]] ||
  fail "QEMU refusing its configuration was reported as a panic, or the workload ran: $err"
pass "QEMU refusing its configuration: exit 1, QEMU's line and one of runcvm-init's that does not claim a panic"

# The workload outgrows -m inside the VM: the guest's OOM killer ends it, the exit is 137 as under
# runc, the output written before it is intact, and the container is removable. The VM has its
# balloon (RUNCVM_BALLOON, the default), which never inflates: the guest has all of -m.
rc=0
out=$(timeout 300 docker run --name oom --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -m 256m runcvm-test/faults \
  sh -c 'echo before; yes 0123456789012345678901234567890123456789 | head -c 2000m | sort >/dev/null' 2>"$SCRATCH/oom.err") || rc=$?
[[ $rc -eq 137 ]] || fail "a workload beyond -m: exit $rc, expected 137 (the guest's OOM killer); output: $out"
[[ "$out" == before ]] || fail "a workload beyond -m: its output before the kill was \"$out\""
timeout 30 docker rm oom >/dev/null || fail "the container whose workload was OOM-killed could not be removed"
pass "a workload beyond -m 256m is OOM-killed in the VM: exit 137, its output intact, the container removed"

# docker kill of six VMs at once (a host shutting down): every container ends, no helper is left.
ids=()
for i in 1 2 3 4 5 6; do
  ids+=("$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -m 128m runcvm-test/faults sleep 100000)")
  on_exit "docker rm -f ${ids[-1]} >/dev/null 2>&1"
done
helpers=()
for id in "${ids[@]}"; do wait_for_vm "$id"; helpers+=($(helper_pids "$id" .)); done
(( ${#helpers[@]} >= 12 )) || fail "six VMs: expected QEMU and virtiofsd under each runcvm-init, found ${#helpers[@]} helpers"
start=$(now_ms)
timeout 60 docker kill "${ids[@]}" >/dev/null || fail "docker kill of six VMs did not return within 60 s"
for id in "${ids[@]}"; do
  rc=$(timeout 30 docker wait "$id") || fail "a container did not end within 30 s of docker kill"
  [[ $rc -eq 137 ]] || fail "docker kill of six VMs: one exited $rc, expected 137"
done
took=$(( $(now_ms) - start ))
for pid in "${helpers[@]}"; do
  [[ ! -e /proc/$pid ]] || fail "docker kill of six VMs: $(tr '\0' ' ' </proc/"$pid"/cmdline) is left running"
done
docker rm "${ids[@]}" >/dev/null || fail "docker rm of the six killed containers"
for id in "${ids[@]}"; do
  ! grep -q "$id" /proc/mounts || fail "docker kill of six VMs: a mount of $id is left: $(grep "$id" /proc/mounts | head -1)"
done
pass "docker kill of six VMs at once: all ended (exit 137) in $took ms; none of their ${#helpers[@]} helpers or mounts is left"

# dockerd restarted with live-restore while a VM runs: the VM runs on (same QEMU, its output
# continues), and docker exec and docker logs work with the new dockerd.
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/faults \
  sh -c 'i=0; while :; do echo "tick $i"; i=$((i + 1)); sleep 0.5; done')
on_exit "docker rm -f $id >/dev/null 2>&1"
wait_for_vm "$id"
qemu=$(helper_pids "$id" qemu-system)
[[ -n "$qemu" ]] || fail "live-restore: no QEMU under the container's runcvm-init"
restart_dockerd
[[ -e /proc/$qemu ]] || fail "live-restore: the VM's QEMU did not survive dockerd's restart"
[[ "$(docker inspect -f '{{.State.Running}}' "$id")" == true ]] || fail "live-restore: the container is not running after the restart"
[[ "$(timeout 60 docker exec "$id" echo exec-after-restart)" == exec-after-restart ]] || fail "live-restore: docker exec after the restart"
before=$(docker logs "$id" 2>&1 | tail -1)
sleep 2
after=$(docker logs "$id" 2>&1 | tail -1)
[[ "$before" == "tick "* && "$after" == "tick "* && "$before" != "$after" ]] ||
  fail "live-restore: docker logs after the restart does not follow the workload (\"$before\", then \"$after\")"
timeout 60 docker stop -t 2 "$id" >/dev/null || fail "live-restore: docker stop after the restart"
[[ ! -e /proc/$qemu ]] || fail "live-restore: QEMU is left after docker stop"
pass "dockerd restarted with live-restore: the VM ran on (QEMU $qemu), docker exec and logs ($after) work, docker stop ends it"

# A /dev/kvm that exists but cannot boot the VM (here /dev/null passed as /dev/kvm: QEMU's KVM
# set-up fails, as on hosts whose KVM runs only their own kind of guest). The first container pays
# the attempt and records the verdict; the next starts straight under TCG; a new bundle (its QEMU
# is another file) tries again. The notices reach a terminal, never the workload's stderr.
qemu_file="$BUNDLE/libexec/qemu-system-x86_64"
[[ -z "$(kvm_verdict_files)" ]] || fail "a KVM verdict for this test's fresh bundle exists before any container ran"
bad_kvm=(--runtime=runcvm --device /dev/null:/dev/kvm runcvm-test/faults)
docker run --rm "${bad_kvm[@]}" sh -c 'echo out; echo err >&2' >"$SCRATCH/kvm.out" 2>"$SCRATCH/kvm.err" ||
  fail "a /dev/kvm that cannot boot the VM: docker run failed: $(cat "$SCRATCH/kvm.err")"
[[ "$(cat "$SCRATCH/kvm.out")" == out && "$(cat "$SCRATCH/kvm.err")" == err ]] ||
  fail "a /dev/kvm that cannot boot the VM: the workload's streams were not its own: stdout \"$(cat "$SCRATCH/kvm.out")\", stderr \"$(cat "$SCRATCH/kvm.err")\""
verdict=$(kvm_verdict_files)
[[ -n "$verdict" ]] || fail "no KVM verdict recorded in /run/runcvm/kvm after KVM failed to boot the VM: $(ls /run/runcvm/kvm 2>&1)"
assert_contains "$(cat "$verdict")" '"kvm_boots": false' "the KVM verdict"
[[ "$(stat -c %a /run/runcvm/kvm)" == 700 ]] || fail "/run/runcvm/kvm is $(stat -c %a /run/runcvm/kvm), expected 700"
out=$(docker run --rm -t "${bad_kvm[@]}" echo second 2>&1)
assert_contains "$out" "KVM did not boot this kernel earlier since the host started" "the second container on a KVM that cannot boot"
[[ "$out" != *"did not boot under KVM"* ]] || fail "the second container tried KVM again: $out"
assert_contains "$out" "second" "the second container on a KVM that cannot boot"
# The VM cannot see the verdicts, nor change them.
out=$(docker run --rm "${bad_kvm[@]}" sh -c 'ls -a /.runcvm; cat /.runcvm/kvm/* 2>&1; { echo x >/.runcvm/kvm/planted; } 2>&1; true')
[[ "$out" != *kvm_boots* ]] || fail "the VM read the KVM verdicts: $out"
[[ ! -e /run/runcvm/kvm/planted ]] || fail "the VM wrote into the host's KVM verdicts"
# Another bundle (here the same QEMU, touched: another file as far as the verdict knows) asks again.
touch "$qemu_file"
out=$(docker run --rm -t "${bad_kvm[@]}" echo third 2>&1)
assert_contains "$out" "did not boot under KVM (QEMU exited while starting under KVM)" "a container after the bundle changed"
pass "a /dev/kvm that cannot boot the VM: the first container records it ($(basename "$verdict")), the next starts under TCG at once, a changed bundle tries again; the workload's streams stay its own; the VM cannot reach the verdicts"
