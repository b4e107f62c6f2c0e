#!/usr/bin/env bash
# End to end: `docker run --runtime=runcvm` runs the command in a QEMU VM (TCG here) booted from
# the container's filesystem, and behaves like a container: exit codes, separate stdout and
# stderr, stdin, no lost output, env/user/cwd/hostname, CPUs and memory, bind mounts, tmpfs,
# a read-only bundle, docker stop/kill/logs.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
import_busybox_image runcvm-test/vm debian
# TCG is what CI has; forcing it keeps the test the same on machines with KVM.

out=$(vm runcvm-test/vm uname -r)
[[ "$out" == "$KERNEL" ]] || fail "uname -r in the VM: \"$out\", expected the bundle kernel $KERNEL"
[[ "$out" != "$(uname -r)" ]] || fail "the workload ran on the host kernel"
pass "the workload runs on the guest kernel $out"

for code in 0 1 42 255; do
  rc=0
  vm runcvm-test/vm sh -c "exit $code" || rc=$?
  [[ $rc -eq $code ]] || fail "exit $code came back as $rc"
done
rc=0
vm runcvm-test/vm sh -c 'kill -9 $$' || rc=$?
[[ $rc -eq 137 ]] || fail "death by SIGKILL came back as $rc, expected 137"
# A program that cannot start: as under runc, 127 when it is missing, 126 when it may not be executed.
for case in "no-such-command:127" "/etc/os-release:126"; do
  expected=${case##*:}
  runc_rc=0; docker run --rm runcvm-test/vm "${case%:*}" 2>/dev/null || runc_rc=$?
  rc=0; vm runcvm-test/vm "${case%:*}" 2>/dev/null || rc=$?
  [[ $rc -eq $expected && $runc_rc -eq $expected ]] || fail "${case%:*}: runcvm gave $rc, runc $runc_rc, expected $expected"
done
pass "exit codes 0, 1, 42, 255, 137 (SIGKILL), 127 (no such command) and 126 (not executable), as runc gives them"

rc=0
vm runcvm-test/vm sh -c 'echo to-stdout; echo to-stderr >&2; echo more-stdout; exit 7' >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 7 ]] || fail "exit code $rc"
[[ "$(cat "$SCRATCH/out")" == $'to-stdout\nmore-stdout' ]] || fail "stdout: $(cat "$SCRATCH/out")"
[[ "$(cat "$SCRATCH/err")" == "to-stderr" ]] || fail "stderr: $(cat "$SCRATCH/err")"
pass "stdout and stderr arrive separately, and the last lines before exit arrive"

got=$(printf 'line one\nline two\n' | vm -i runcvm-test/vm sh -c 'while read l; do echo "got: $l"; done')
[[ "$got" == $'got: line one\ngot: line two' ]] || fail "stdin: $got"
pass "-i pipes stdin in, and its end arrives"

expected=$(python3 -c 'import hashlib; print(hashlib.sha256((b"0123456789abcdef\n" * 700000)[:10485760]).hexdigest())')
actual=$(vm runcvm-test/vm sh -c 'yes 0123456789abcdef | head -c 10485760' | sha256sum | cut -c1-64)
[[ "$actual" == "$expected" ]] || fail "10 MB of stdout arrived damaged"
pass "10 MB of stdout arrive intact (sha256)"

out=$(vm -e FOO=bar -e RUNCVM_KERNEL_APPEND=quiet -u 1000:1000 -w /tmp -h vmhost runcvm-test/vm \
  sh -c 'echo "$FOO $(id -u):$(id -g) $(pwd) $(hostname)"; env | grep -c RUNCVM_ || true')
[[ "$out" == $'bar 1000:1000 /tmp vmhost\n0' ]] || fail "env/user/cwd/hostname: $out"
out=$(vm --entrypoint /bin/echo runcvm-test/vm from-entrypoint)
[[ "$out" == "from-entrypoint" ]] || fail "--entrypoint: $out"
pass "-e, -u uid:gid, -w, -h and --entrypoint apply in the VM; RUNCVM_* stay out of the env"

out=$(vm --cpus 2 -m 512m runcvm-test/vm sh -c 'nproc; grep MemTotal /proc/meminfo')
[[ "$(head -1 <<<"$out")" == 2 ]] || fail "--cpus 2 gave nproc $(head -1 <<<"$out")"
mem_kb=$(awk '/MemTotal/ {print $2}' <<<"$out")
(( mem_kb > 512 * 1024 * 90 / 100 && mem_kb <= 512 * 1024 )) || fail "-m 512m gave MemTotal $mem_kb kB"
pass "--cpus 2 gives 2 CPUs, -m 512m gives MemTotal $mem_kb kB"

mkdir -p "$SCRATCH/shared"
echo "from the host" >"$SCRATCH/shared/in"
out=$(vm -v "$SCRATCH/shared:/shared" --tmpfs /scratch runcvm-test/vm \
  sh -c 'cat /shared/in; echo "from the vm" >/shared/out; grep " /scratch " /proc/mounts | cut -d" " -f3; touch /opt/runcvm/x 2>/dev/null && echo writable || echo read-only')
[[ "$out" == $'from the host\ntmpfs\nread-only' ]] || fail "mounts: $out"
[[ "$(cat "$SCRATCH/shared/out")" == "from the vm" ]] || fail "the VM's write did not reach the host"
pass "-v works both ways, --tmpfs is a tmpfs in the VM, /opt/runcvm is read-only"

# /dev/shm has the size --shm-size gives it (Docker's 64 MiB without), as under runc.
shm_kib() { "$@" runcvm-test/vm sh -c "df -k /dev/shm | awk 'NR==2 {print \$2}'"; }
for size in "" 32m; do
  runc_kib=$(shm_kib docker run --rm ${size:+--shm-size $size})
  vm_kib=$(shm_kib vm ${size:+--shm-size $size})
  [[ "$vm_kib" == "$runc_kib" ]] || fail "/dev/shm with ${size:-no --shm-size}: runcvm ${vm_kib} KiB, runc ${runc_kib} KiB"
done
pass "--shm-size sizes the VM's /dev/shm as runc sizes the container's (default and 32m)"

# --sysctl reaches the VM's kernel (and Docker's own defaults, like ip_unprivileged_port_start=0).
probe='cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/msgmax'
runc_out=$(docker run --rm --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=65536 runcvm-test/vm sh -c "$probe")
vm_out=$(vm --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=65536 runcvm-test/vm sh -c "$probe")
[[ "$vm_out" == $'1\n0\n65536' && "$vm_out" == "$runc_out" ]] || fail "--sysctl: runcvm read ${vm_out//$'\n'/ }, runc ${runc_out//$'\n'/ }"
pass "--sysctl net.ipv4.ip_forward=1 and kernel.msgmax apply in the VM's kernel, as runc applies them"

# The workload's capabilities (RUNCVM_CAPS, vm_capabilities.hpp): every one in the VM by default
# and with --cap-add, as RunCVM gives them (the VM's kernel is the workload's own); exactly runc's
# once the operator narrowed Docker's default set, or with RUNCVM_CAPS=spec; a non-root user holds
# none effective, as under runc; and the container's own set on the host never changes.
caps_probe='grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status | tr -s "\t" " " | tr "\n" " "'
every=000001ffffffffff  # CAP_CHOWN … CAP_CHECKPOINT_RESTORE, all the guest's kernel knows
# (--privileged is left out: runc cannot start it on this machine, whose own bounding set lacks
# CAP_SYS_RESOURCE.)
for flags in "--cap-add SYS_PTRACE --cap-drop NET_RAW" "--cap-drop ALL --cap-add NET_BIND_SERVICE" \
             "-e RUNCVM_CAPS=spec" "-e RUNCVM_CAPS=spec -u 1000" "--cap-drop NET_RAW --security-opt no-new-privileges"; do
  runc_caps=$(docker run --rm $flags runcvm-test/vm sh -c "$caps_probe; grep NoNewPrivs /proc/self/status")
  vm_caps=$(vm $flags runcvm-test/vm sh -c "$caps_probe; grep NoNewPrivs /proc/self/status") || fail "docker run $flags failed: $vm_caps"
  [[ "$vm_caps" == "$runc_caps" ]] || fail "capabilities with '$flags': runcvm [$vm_caps], runc [$runc_caps]"
done
root_every="CapInh: 0000000000000000 CapPrm: $every CapEff: $every CapBnd: $every CapAmb: 0000000000000000 "
user_every="CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: $every CapAmb: 0000000000000000 "
for case in "-u 1000:$user_every" "--security-opt no-new-privileges:${root_every}NoNewPrivs: 1"; do
  flags=${case%%:*} expected=${case#*:}
  vm_caps=$(vm $flags runcvm-test/vm sh -c "$caps_probe; grep NoNewPrivs /proc/self/status | grep -v 0 || true" | tr -s '\t' ' ') ||
    fail "docker run $flags failed: $vm_caps"
  [[ "$vm_caps" == "$expected" ]] || fail "capabilities with '$flags': [$vm_caps], expected [$expected]"
done
# With no flag, --cap-drop ALL and --cap-add: the workload's sets in the VM, and the container's
# own on the host, which the helpers use: the same set whatever the workload's.
host_sets=""
for case in ":$root_every" "--cap-drop ALL:CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: 0000000000000000 CapAmb: 0000000000000000 " \
            "--cap-add SYS_PTRACE:$root_every"; do
  flags=${case%%:*} expected=${case#*:}
  c=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg $flags runcvm-test/vm sleep 600)
  on_exit "docker rm -f $c >/dev/null 2>&1"
  workload=$(docker exec "$c" sh -c 'cd /proc/$(pidof sleep) && grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" status | tr -s "\t" " " | tr "\n" " "') ||
    fail "the VM with '${flags:-no flags}' did not come up"
  [[ "$workload" == "$expected" ]] || fail "the workload's capabilities with '${flags:-no flags}': [$workload], expected [$expected]"
  init=$(docker inspect -f '{{.State.Pid}}' "$c")
  sets=$(grep -E "^Cap(Prm|Eff|Bnd)" /proc/"$init"/status | tr -s '\t' ' ' | tr '\n' ' ')
  (( (16#$(awk '/^CapBnd/ {print $2}' /proc/"$init"/status) >> 16) & 1 )) &&
    fail "the container on the host holds CAP_SYS_MODULE with '${flags:-no flags}': $sets"
  [[ -z "$host_sets" || "$sets" == "$host_sets" ]] || fail "the container's own sets changed with '$flags': [$sets], not [$host_sets]"
  host_sets=$sets
  docker rm -f "$c" >/dev/null
done
pass "capabilities in the VM: every one by default, with --cap-add and as -u 1000's bounding set; runc's exactly with --cap-drop, --cap-drop ALL and RUNCVM_CAPS=spec; no-new-privileges holds; the container's own sets on the host are the same in every case ($host_sets)"

id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/vm \
  sh -c 'trap "echo got TERM; exit 23" TERM; echo started; while true; do sleep 0.2; done')
for _ in $(seq 100); do docker logs "$id" 2>&1 | grep -q started && break; sleep 0.2; done
docker stop -t 30 "$id" >/dev/null
[[ "$(docker wait "$id")" == 23 ]] || fail "docker stop: exit code $(docker inspect -f '{{.State.ExitCode}}' "$id")"
logs=$(docker logs "$id" 2>&1)
[[ "$logs" == $'started\ngot TERM' ]] || fail "docker logs: $logs"
docker rm "$id" >/dev/null
pass "docker stop delivers SIGTERM to the workload, which exits with its own code; docker logs shows its output"

id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/vm sleep 1000)
sleep 1
docker kill "$id" >/dev/null
[[ "$(docker wait "$id")" == 137 ]] || fail "docker kill: exit code not 137"
docker rm "$id" >/dev/null
pass "docker kill ends the container with 137"

# -it: a real pty in the guest, driven through script(1) as a terminal user would.
out=$(printf 'tty; stty size; echo typed-$((6*7)); exit 5\n' |
  script -qec "docker run --rm -it --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/vm sh" /dev/null) && rc=0 || rc=$?
[[ $rc -eq 5 ]] || fail "-it exit code $rc: $out"
assert_contains "$out" "/dev/pts/" "-it output"
assert_contains "$out" "typed-42" "-it output"
pass "-it gives the workload a pty in the guest, input and exit code pass through"

# Signals and restarts.
background() { docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/vm sh -c "$1"; }
wait_for_log() {  # id text
  for _ in $(seq 150); do docker logs "$1" 2>&1 | grep -q "$2" && return 0; sleep 0.2; done
  fail "\"$2\" never appeared in the logs of $1: $(docker logs "$1" 2>&1)"
}
id=$(background 'trap "echo got USR1" USR1; echo started; while true; do sleep 0.2; done')
wait_for_log "$id" started
docker kill -s USR1 "$id" >/dev/null
wait_for_log "$id" "got USR1"
docker rm -f "$id" >/dev/null
pass "docker kill -s USR1 reaches the workload"

id=$(background 'trap "" TERM; echo started; while true; do sleep 0.2; done')
wait_for_log "$id" started
start=$(date +%s)
docker stop -t 5 "$id" >/dev/null
elapsed=$(( $(date +%s) - start ))
[[ "$(docker wait "$id")" == 137 ]] || fail "a workload ignoring SIGTERM did not end with 137"
(( elapsed <= 10 )) || fail "docker stop -t 5 took ${elapsed} s"
docker rm "$id" >/dev/null
pass "docker stop -t 5 of a workload that ignores SIGTERM ends in ${elapsed} s with 137"

id=$(background 'echo booted; sleep 1000')
wait_for_log "$id" booted
docker restart -t 2 "$id" >/dev/null
for _ in $(seq 150); do [[ $(docker logs "$id" 2>&1 | grep -c booted) -ge 2 ]] && break; sleep 0.2; done
[[ $(docker logs "$id" 2>&1 | grep -c booted) -ge 2 ]] || fail "docker restart did not boot the VM again"
docker rm -f "$id" >/dev/null
pass "docker restart boots the VM again"

# Users by name (resolved by dockerd from the image's /etc/passwd) and cgroup filesystems.
out=$(vm -u nobody runcvm-test/vm id -u)
[[ "$out" == 65534 ]] || fail "-u nobody ran as $out"
for mode in 2 hybrid none; do
  types=$(vm -e RUNCVM_CGROUPFS=$mode runcvm-test/vm sh -c 'grep " /sys/fs/cgroup" /proc/mounts | cut -d" " -f3 | sort -u | tr "\n" " "')
  case $mode in
    2) [[ "$types" == "cgroup2 " ]] || fail "RUNCVM_CGROUPFS=2 mounted: $types" ;;
    hybrid) [[ "$types" == "cgroup cgroup2 tmpfs " ]] || fail "RUNCVM_CGROUPFS=hybrid mounted: $types" ;;
    none) [[ -z "$types" ]] || fail "RUNCVM_CGROUPFS=none mounted: $types" ;;
  esac
done
pass "-u name, and RUNCVM_CGROUPFS 2, hybrid and none"

# A named volume keeps what one VM wrote for the next. With --init, the VM's PID 1 takes
# docker-init's role: it is the workload's parent, reaps orphans, and passes the exit code on.
docker volume create runcvm-test-volume >/dev/null
on_exit "docker volume rm -f runcvm-test-volume >/dev/null 2>&1"
vm -v runcvm-test-volume:/data runcvm-test/vm sh -c 'echo kept >/data/file'
out=$(vm -v runcvm-test-volume:/data runcvm-test/vm cat /data/file)
[[ "$out" == kept ]] || fail "named volume: the second VM read \"$out\""
rc=0
out=$(vm --init runcvm-test/vm sh -c 'sh -c "sleep 0.2 & exit 0"; sleep 1
  cat /proc/$PPID/comm; grep -l "^State:.*zombie" /proc/[0-9]*/status | wc -l; exit 3') || rc=$?
[[ $rc -eq 3 && "$out" == $'runcvm-vm-init\n0' ]] || fail "--init: exit code $rc, parent and zombies: $out"
pass "a named volume persists across VMs; with --init the VM's PID 1 supervises and reaps"

# Firmware and kernel messages stay hidden unless asked for.
vm runcvm-test/vm true 2>"$SCRATCH/quiet-err"
[[ ! -s "$SCRATCH/quiet-err" ]] || fail "a plain run printed on stderr: $(cat "$SCRATCH/quiet-err")"
vm -e RUNCVM_BIOS_DEBUG=1 runcvm-test/vm true 2>"$SCRATCH/bios-err"
grep -q SeaBIOS "$SCRATCH/bios-err" || fail "RUNCVM_BIOS_DEBUG=1 showed no SeaBIOS messages: $(head -c 300 "$SCRATCH/bios-err")"
vm -e RUNCVM_KERNEL_DEBUG=1 runcvm-test/vm true 2>"$SCRATCH/kernel-err"
grep -q "Linux version" "$SCRATCH/kernel-err" || fail "RUNCVM_KERNEL_DEBUG=1 showed no kernel messages: $(head -c 300 "$SCRATCH/kernel-err")"
pass "firmware and kernel output are hidden by default and shown with RUNCVM_BIOS_DEBUG / RUNCVM_KERNEL_DEBUG"

# RUNCVM_TIMINGS=1 accounts for the start-up: every stage measured and the stages add up, for a
# VM that boots (RUNCVM_TEMPLATE=0) and for one restored from its template.
for template in 0 1; do
  vm -e RUNCVM_TIMINGS=1 -e RUNCVM_TEMPLATE=$template runcvm-test/vm true 2>"$SCRATCH/timings"
  line=$(grep '^runcvm: timings (ms):' "$SCRATCH/timings") || fail "RUNCVM_TIMINGS=1 printed no timings: $(cat "$SCRATCH/timings")"
  python3 - "$line" "$template" <<'PY' || fail "timings do not add up: $line"
import sys
fields = dict(f.split("=") for f in sys.argv[1].split(":", 2)[2].split())
first = ["restore"] if sys.argv[2] == "1" else ["qemu+firmware", "kernel"]
stages = ["helpers"] + first + ["initramfs", "vm-init", "workload", "shutdown"]
values = {k: int(fields[k]) for k in stages + ["total", "started_at", "ended_at"]}
assert all(values[k] >= 0 for k in stages), values
assert all(values[k] > 0 for k in first), values
assert abs(sum(values[k] for k in stages) - values["total"]) <= 7, values
assert abs(values["ended_at"] - values["started_at"] - values["total"]) <= 1, values
PY
  pass "RUNCVM_TIMINGS=1 RUNCVM_TEMPLATE=$template reports the stages: $line"
done

# An init as the entrypoint becomes the VM's PID 1 (busybox init here; systemd in
# runtime_systemd.sh): its console output is the container's output, docker stop reaches it, and
# its clean shutdown is a clean exit.
cat >"$SCRATCH/inittab" <<'TAB'
::sysinit:/bin/sh -c 'echo "sysinit as pid $$ under $(cat /proc/1/comm)"'
::once:/bin/sh -c 'echo init-ready; sleep 1000'
::shutdown:/bin/echo init-shutting-down
TAB
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -v /bin/busybox:/sbin/init:ro \
  -v "$SCRATCH/inittab:/etc/inittab:ro" runcvm-test/vm /sbin/init)
wait_for_log "$id" init-ready
assert_contains "$(docker logs "$id" 2>&1)" "under init" "the init's console output"
docker stop -t 30 "$id" >/dev/null
[[ "$(docker wait "$id")" == 0 ]] || fail "an init that shut down cleanly: exit code $(docker inspect -f '{{.State.ExitCode}}' "$id")"
assert_contains "$(docker logs "$id" 2>&1)" "init-shutting-down" "the init's console output after docker stop"
docker rm "$id" >/dev/null
pass "/sbin/init as the entrypoint is the VM's PID 1; its console is the container's output; docker stop shuts it down"

# A /dev/kvm that cannot run the VM (here /dev/null in its place): with the accelerator left to
# runcvm, the VM starts again under TCG instead of failing or hanging, and the next container
# starts under TCG at once (runtime_faults.sh tests the verdict further). The notice stays off the
# workload's stderr; with -t it is on the terminal, in one line.
out=$(docker run --rm --runtime=runcvm --device /dev/null:/dev/kvm runcvm-test/vm sh -c 'uname -r; exit 4' 2>"$SCRATCH/kvm-err") && rc=0 || rc=$?
[[ $rc -eq 4 && "$out" == "$KERNEL" ]] || fail "with an unusable /dev/kvm: exit code $rc, output \"$out\", stderr: $(cat "$SCRATCH/kvm-err")"
[[ ! -s "$SCRATCH/kvm-err" ]] || fail "the fallback notice reached the workload's stderr: $(cat "$SCRATCH/kvm-err")"
out=$(docker run --rm -t --runtime=runcvm --device /dev/null:/dev/kvm runcvm-test/vm sh -c 'uname -r; exit 4' | tr -d '\r') && rc=0 || rc=$?
[[ $rc -eq 4 && $(grep -c "^runcvm-init: KVM did not boot this kernel earlier since the host started" <<<"$out") -eq 1 &&
  $(grep -c "^runcvm-init:" <<<"$out") -eq 1 ]] || fail "with -t, expected one notice line on the terminal: exit $rc, $out"
pass "an unusable /dev/kvm falls back to TCG: stderr stays the workload's; with -t one line says so"

