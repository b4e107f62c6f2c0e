#!/usr/bin/env bash
# End to end: `docker exec` into a runcvm container runs the command in the VM (TCG here) and
# feels like exec into a runc container: exit codes, separate streams, stdin and its end, -u/-w/-e,
# -t and -it (driven through tmux: stty size, resize, line editing, the typed exit code), -d,
# many sessions at once without one starving another, waiting while the VM boots and sets up, and no
# dependence on the VM's network.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
import_busybox_image runcvm-test/exec debian

# Right after the start the VM is still booting: an exec that may not wait fails with the reason,
# one with the default wait runs once the VM's exec agent is up.
# NET_ADMIN: the network-down case below takes its link down, which needs it in the VM as under runc.
id=$(docker run -d --runtime=runcvm --cap-add NET_ADMIN -e RUNCVM_QEMU_ACCEL=tcg -e FROM_RUN=1 runcvm-test/exec sleep 100000)
rc=0
docker exec -e RUNCVM_EXEC_TIMEOUT=0 "$id" true 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 126 ]] || fail "an exec that may not wait for the booting VM: exit code $rc, expected 126"
assert_contains "$(cat "$SCRATCH/err")" "the VM's exec agent did not answer within 0 s" "the exec's error"
[[ $(wc -l <"$SCRATCH/err") -eq 1 ]] || fail "the timeout error is not one line: $(cat "$SCRATCH/err")"
start=$(date +%s%N)
out=$(docker exec "$id" ip -4 addr show eth0) || fail "an exec during boot did not wait for the VM"
# The agent starts while PID 1 still configures the network; its sessions wait until that is done.
address=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' "$id")
assert_contains "$out" "inet $address/" "the first exec's eth0 (sessions start once the VM is set up)"
pass "exec during boot waits for the VM and its network ($(( ($(date +%s%N) - start) / 1000000 )) ms); with RUNCVM_EXEC_TIMEOUT=0 it fails in one line"

out=$(docker exec "$id" cat /proc/version)
assert_contains "$out" "Linux version $KERNEL " "/proc/version in docker exec"
[[ "$KERNEL" != "$(uname -r)" ]] || fail "the host runs the guest's kernel: the test proves nothing"
out=$(docker exec "$id" sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "')
assert_contains "$out" "runcvm-vm-init" "PID 1 seen by docker exec"
pass "docker exec runs in the VM: guest kernel $KERNEL, PID 1 is runcvm-vm-init"

for code in 0 3 255; do
  rc=0
  docker exec "$id" sh -c "exit $code" || rc=$?
  [[ $rc -eq $code ]] || fail "exec's exit $code came back as $rc"
done
rc=0
docker exec "$id" sh -c 'kill -9 $$' || rc=$?
[[ $rc -eq 137 ]] || fail "an exec killed by SIGKILL came back as $rc, expected 137"
rc=0
docker exec "$id" no-such-command 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 127 ]] || fail "a missing command came back as $rc, expected 127"
assert_contains "$(cat "$SCRATCH/err")" 'exec: "no-such-command": executable file not found in $PATH' "a missing command"
rc=0
docker exec "$id" /etc/os-release 2>/dev/null || rc=$?
[[ $rc -eq 126 ]] || fail "a command that may not be executed came back as $rc, expected 126 (as runc)"
pass "exit codes 0, 3, 255, 137 (SIGKILL), 127 (no such command, with the reason) and 126 (not executable)"

[[ "$(echo x | docker exec -i "$id" cat)" == x ]] || fail "echo x | docker exec -i cat"
got=$(printf 'one\ntwo\n' | docker exec -i "$id" sh -c 'while read l; do echo "got $l"; done; echo end')
[[ "$got" == $'got one\ngot two\nend' ]] || fail "stdin's end did not reach the command: $got"
[[ -z "$(docker exec "$id" cat)" ]] || fail "without -i the command's stdin is not empty"
pass "-i pipes stdin in and its end arrives as EOF; without -i stdin is empty"

rc=0
docker exec "$id" sh -c 'echo o; echo e >&2; echo o2; exit 4' >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 4 && "$(cat "$SCRATCH/out")" == $'o\no2' && "$(cat "$SCRATCH/err")" == e ]] ||
  fail "streams: rc=$rc out=$(cat "$SCRATCH/out") err=$(cat "$SCRATCH/err")"
pass "stdout and stderr arrive separately"

# A user by name: Docker reads /etc/passwd from the container's root, which the VM just wrote.
docker exec "$id" sh -c 'mkdir -p /home/alice && echo alice:x:1000:1000::/home/alice:/bin/sh >>/etc/passwd &&
  echo alice:x:1000: >>/etc/group' || fail "adding a user in the VM"
[[ "$(docker exec -u 1000 "$id" id -u)" == 1000 ]] || fail "-u 1000"
out=$(docker exec -u alice -w /tmp -e Z=9 "$id" sh -c 'echo "$(id -un) $(id -u) $HOME $(pwd) $Z $FROM_RUN"; env | grep -c RUNCVM_ || true')
[[ "$out" == $'alice 1000 /home/alice /tmp 9 1\n0' ]] || fail "-u alice -w /tmp -e Z=9: $out"
pass "-u 1000, -u alice (HOME from /etc/passwd), -w /tmp, -e Z=9 and the container's env apply; RUNCVM_* stay out"

out=$(docker exec -t "$id" tty | tr -d '\r')
[[ "$out" == /dev/pts/* ]] || fail "docker exec -t tty printed $out"
pass "-t gives the command a terminal in the VM ($out)"

# -it in a real terminal: tmux gives docker a 100x30 pty; typed lines run, stty size matches the
# terminal and follows a resize, line editing works (a backspace), and the typed exit code returns.
start_terminal 100 30 "docker exec -it $id sh; echo \"exit=\$?\" >$SCRATCH/it-exit; sleep 60"
wait_for_screen "/ #" "the shell's prompt"
terminal_keys 'stty size' Enter
wait_for_screen "30 100" "stty size in a 100x30 terminal"
terminal_keys 'echo "ab' X BSpace 'c"' Enter
wait_for_screen "abc" "line editing (a backspace)"
terminal_resize 80 20
sleep 0.5
terminal_keys 'stty size' Enter
wait_for_screen "20 80" "stty size after resizing the terminal to 80x20"
terminal_keys 'vi /tmp/typed' Enter
sleep 1
terminal_keys i 'typed in vi' Escape
sleep 0.5  # vi tells a lone Escape from the start of a key's sequence by a pause
terminal_keys ':wq' Enter
terminal_keys 'echo "vi-done-$((40 + 2))"' Enter
wait_for_screen "vi-done-42" "the shell after vi"
terminal_keys 'exit 7' Enter
for _ in $(seq 100); do [[ -s $SCRATCH/it-exit ]] && break; sleep 0.1; done
[[ "$(cat "$SCRATCH/it-exit" 2>/dev/null)" == "exit=7" ]] || fail "docker exec -it: $(cat "$SCRATCH/it-exit" 2>/dev/null)"
[[ "$(docker exec "$id" cat /tmp/typed)" == "typed in vi" ]] || fail "vi did not write what was typed"
pass "-it through tmux: commands run, stty size matches (and follows a resize), line editing and vi work, exit 7 returns"

# -d: docker returns at once, the command goes on in the VM.
start=$(date +%s%N)
docker exec -d "$id" sh -c 'sleep 2; echo detached >/tmp/detached'
ms=$(( ($(date +%s%N) - start) / 1000000 ))
(( ms < 2000 )) || fail "docker exec -d took $ms ms"
for _ in $(seq 100); do [[ "$(docker exec "$id" cat /tmp/detached 2>/dev/null)" == detached ]] && break; sleep 0.1; done
[[ "$(docker exec "$id" cat /tmp/detached)" == detached ]] || fail "the detached command did not run"
pass "-d returns in $ms ms and the command runs on in the VM"

# Five sessions at once, 5 MB each way, intact.
docker exec "$id" sh -c 'head -c 5242880 /dev/urandom >/tmp/blob'
blob_sum=$(docker exec "$id" sha256sum /tmp/blob | cut -c1-64)
head -c 5242880 /dev/urandom >"$SCRATCH/in"
in_sum=$(sha256sum "$SCRATCH/in" | cut -c1-64)
pids=()
for i in 1 2 3 4 5; do
  docker exec "$id" cat /tmp/blob >"$SCRATCH/out$i" & pids+=($!)
  docker exec -i "$id" sha256sum <"$SCRATCH/in" >"$SCRATCH/sum$i" & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a concurrent exec failed"; done
for i in 1 2 3 4 5; do
  [[ "$(sha256sum <"$SCRATCH/out$i" | cut -c1-64)" == "$blob_sum" ]] || fail "session $i's 5 MB of stdout arrived damaged"
  [[ "$(cut -c1-64 "$SCRATCH/sum$i")" == "$in_sum" ]] || fail "session $i's 5 MB of stdin arrived damaged"
done
pass "10 concurrent sessions (5 MB out, 5 MB in each) arrive intact (sha256)"

# A session whose reader stalls holds up only itself.
mkfifo "$SCRATCH/stalled"
docker exec "$id" cat /dev/zero >"$SCRATCH/stalled" &
flood=$!
exec 7<"$SCRATCH/stalled"  # opened, never read
sleep 1
start=$(date +%s%N)
[[ "$(timeout 20 docker exec "$id" echo alive)" == alive ]] || fail "a session stalled behind a flooding one"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ "$(echo in | timeout 20 docker exec -i "$id" cat)" == in ]] || fail "stdin stalled behind a flooding session"
kill "$flood" 2>/dev/null || true
exec 7<&-
wait "$flood" 2>/dev/null || true
pass "a flooding session with a stalled reader does not hold up another ($ms ms)"

# The channel is not the network: exec works in a VM whose network is down.
docker exec "$id" ip link set eth0 down
[[ "$(docker exec "$id" cat /sys/class/net/eth0/operstate)" == down ]] || fail "eth0 is still up"
[[ "$(docker exec "$id" echo still-here)" == still-here ]] || fail "exec needs the VM's network"
pass "exec works with the VM's network down"

# An exec's capabilities are the container's, as runc gives them, for root and another user
# (exec --privileged is left out: runc cannot grant it on this machine, which lacks CAP_SYS_RESOURCE).
flags="--cap-drop NET_RAW --cap-add SYS_PTRACE"
runc_id=$(docker run -d $flags runcvm-test/exec sleep 1000)
caps_id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg $flags runcvm-test/exec sleep 1000)
on_exit "docker rm -f $runc_id $caps_id >/dev/null 2>&1"
docker exec "$caps_id" true || fail "the second VM did not come up"
for exec_flags in "" "-u 1000"; do
  probe='grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status | tr -s "\t" " " | tr "\n" " "'
  runc_caps=$(docker exec $exec_flags "$runc_id" sh -c "$probe")
  vm_caps=$(docker exec $exec_flags "$caps_id" sh -c "$probe")
  [[ "$vm_caps" == "$runc_caps" ]] || fail "exec capabilities with '${exec_flags:-no flags}': runcvm [$vm_caps], runc [$runc_caps]"
done
docker rm -f "$runc_id" "$caps_id" >/dev/null
# Into a container whose set was not narrowed (--cap-add NET_ADMIN only), an exec gets what its
# workload got: every capability for root, the full bounding set and none effective for a user.
every=000001ffffffffff
[[ "$(docker exec "$id" sh -c "$probe")" == "CapInh: 0000000000000000 CapPrm: $every CapEff: $every CapBnd: $every CapAmb: 0000000000000000 " ]] ||
  fail "a root exec lacks capabilities: $(docker exec "$id" sh -c "$probe")"
[[ "$(docker exec -u 1000 "$id" sh -c "$probe")" == "CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: $every CapAmb: 0000000000000000 " ]] ||
  fail "a user's exec has: $(docker exec -u 1000 "$id" sh -c "$probe")"
pass "an exec's capabilities match runc's (container with $flags; exec as root and -u 1000), and every capability into a container that was not narrowed"

# The container stopping ends running sessions as runc's do (SIGKILL: 137).
docker exec "$id" sleep 1000 &
session=$!
sleep 1
docker rm -f "$id" >/dev/null
rc=0
wait "$session" || rc=$?
[[ $rc -eq 137 ]] || fail "a session of a removed container ended with $rc, expected 137"
pass "sessions end with 137 when the container goes"
