#!/usr/bin/env bash
# podman (Debian's 4.3, with conmon and CNI networks) drives runcvm-runtime as it drives runc:
# `podman run --runtime <bundle>/bin/runcvm-runtime` boots a VM from an image imported with
# `podman import` (no registry, no dockerd: no hostconfig.json). Exit codes come back as runc's,
# stdout and stderr apart; -it is a real terminal; `podman exec` runs in the VM with its exit code;
# -p publishes a port of the VM; on a podman network with DNS, a VM reaches another by name (the
# network's bridge is in hairpin mode, which once made runcvm-init's bridge drop every answer to
# the VM); `podman stop` and `podman rm` leave no QEMU or virtiofsd behind.
source "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || fail "podman is needed (apt-get install podman)"
[[ -x /usr/lib/cni/dnsname ]] ||
  fail "the dnsname CNI plugin is needed (apt-get install golang-github-containernetworking-plugin-dnsname)"

make_dev_bundle
on_exit 'rm -f $(kvm_verdict_files)'
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
RUNTIME="$BUNDLE/bin/runcvm-runtime"

# A private podman: its own storage, run state and network configs, CNI as on Debian 12. Podman
# asks for 1048576 open files and processes, above the hard limits of some hosts (runc then fails
# under runc too): the test asks for less.
PD="$SCRATCH/podman"
mkdir -p "$PD/networks"
cat >"$PD/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[network]
network_backend = "cni"
network_config_dir = "$PD/networks"
[engine]
events_logger = "file"
CONF
export CONTAINERS_CONF="$PD/containers.conf"
PODMAN=(podman --root "$PD/root" --runroot "$PD/runroot" --cgroup-manager cgroupfs)
pm() { "${PODMAN[@]}" "$@"; }
vm_() { pm run --runtime "$RUNTIME" -e RUNCVM_QEMU_ACCEL=tcg "$@"; }
on_exit 'pm rm -a -f -t 0 >/dev/null 2>&1; pm network rm -f runcvm-test-net >/dev/null 2>&1'

bash "$SOURCE_DIR/ci/busybox-image.sh" --rootfs "$SCRATCH/rootfs" debian
tar -C "$SCRATCH/rootfs" -c . | pm import - localhost/runcvm-test >/dev/null 2>&1
IMG=localhost/runcvm-test

rc=0
vm_ --rm $IMG sh -c 'uname -r; echo to-stderr >&2; exit 3' >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 3 ]] || fail "podman run: exit code $rc, expected 3; stderr: $(cat "$SCRATCH/err")"
[[ $(cat "$SCRATCH/out") == "$KERNEL" ]] || fail "podman run: stdout was: $(cat "$SCRATCH/out")"
[[ $(cat "$SCRATCH/err") == "to-stderr" ]] || fail "podman run: stderr was: $(cat "$SCRATCH/err")"
pass "podman run boots a VM ($KERNEL): exit code 3, stdout and stderr apart"

same_as_runc() {  # expected-exit-code command…
  local expected=$1 rc=0 runc_rc=0; shift
  pm run --rm $IMG "$@" 2>/dev/null || runc_rc=$?
  vm_ --rm $IMG "$@" 2>/dev/null || rc=$?
  [[ $rc -eq $expected && $runc_rc -eq $expected ]] || fail "$*: runcvm gave $rc, runc $runc_rc, expected $expected"
}
same_as_runc 0 true
same_as_runc 42 sh -c 'exit 42'
same_as_runc 127 no-such-command
same_as_runc 126 /etc/os-release
# Under runc the workload is PID 1, which SIGKILL from inside cannot end; in the VM it is not.
rc=0; vm_ --rm $IMG sh -c 'kill -9 $$' || rc=$?
[[ $rc -eq 137 ]] || fail "death by SIGKILL came back as $rc, expected 137"
pass "exit codes 0, 42, 127 (no such command) and 126 (not executable) as podman with runc gives them, 137 for SIGKILL"

start_terminal 100 30 "${PODMAN[*]} run -it --rm --runtime $RUNTIME -e RUNCVM_QEMU_ACCEL=tcg $IMG sh; echo \"exit=\$?\" >$SCRATCH/it-exit; sleep 60"
wait_for_screen "/ #" "podman run -it: the shell's prompt" 60
terminal_keys 'stty size; uname -r' Enter
wait_for_screen "30 100" "podman run -it: stty size in a 100x30 terminal"
wait_for_screen "$KERNEL" "podman run -it: uname -r"
terminal_keys 'exit 6' Enter
for _ in $(seq 100); do [[ -s $SCRATCH/it-exit ]] && break; sleep 0.2; done
[[ $(cat "$SCRATCH/it-exit" 2>/dev/null) == "exit=6" ]] || fail "podman run -it: $(cat "$SCRATCH/it-exit" 2>/dev/null)"
pass "podman run -it: a terminal of the right size, the guest's kernel, exit code 6"

PORT=$(free_port)
vm_ -d --name web -p "127.0.0.1:$PORT:80" $IMG \
  sh -c "$WEB_SERVER" web >/dev/null
got=""
for _ in $(seq 120); do got=$(curl -s --max-time 2 "http://127.0.0.1:$PORT/") && [[ -n $got ]] && break; sleep 1; done
[[ $got == "web in $KERNEL" ]] || fail "-p $PORT:80: got \"$got\""
pass "-p publishes the VM's port 80 on the host"

rc=0; out=$(pm exec web sh -c 'uname -r; exit 5') || rc=$?
[[ $rc -eq 5 && $out == "$KERNEL" ]] || fail "podman exec: exit code $rc, output: $out"
pass "podman exec runs in the VM, with its exit code"

pm network create runcvm-test-net >/dev/null
[[ $(pm network inspect runcvm-test-net --format '{{.DNSEnabled}}') == true ]] ||
  fail "podman network create did not enable DNS on its network"
vm_ -d --name named-web --network runcvm-test-net $IMG \
  sh -c "$WEB_SERVER" named >/dev/null
rc=0
out=$(vm_ --rm --network runcvm-test-net $IMG \
  sh -c 'for i in $(seq 120); do wget -qO- http://named-web/ && exit 7; sleep 1; done; exit 1' 2>"$SCRATCH/err") || rc=$?
[[ $rc -eq 7 && $out == "named in $KERNEL" ]] || fail "by name on a podman network: exit $rc, \"$out\", $(tail -2 "$SCRATCH/err")"
pass "on a podman network a VM reaches another by name (podman's DNS through its hairpin bridge)"

# The helpers are runcvm-init's children: QEMU and virtiofsd.
helpers=""
for name in web named-web; do
  init=$(pm inspect "$name" --format '{{.State.Pid}}')
  helpers+=" $(cat /proc/"$init"/task/*/children)"
done
[[ $(wc -w <<<"$helpers") -eq 4 ]] || fail "expected QEMU and virtiofsd for each VM, found PIDs:$helpers"
pm stop -t 5 web named-web >/dev/null || fail "podman stop failed"
for name in web named-web; do
  [[ $(pm inspect "$name" --format '{{.State.Status}}') == exited ]] || fail "$name did not stop"
done
pm rm web named-web >/dev/null
alive() { for pid in $helpers; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done; return 0; }
for _ in $(seq 50); do [[ -z $(alive) ]] && break; sleep 0.2; done
[[ -z $(alive) ]] || fail "after podman stop and rm, still running: $(alive)"
pass "podman stop and rm leave no QEMU or virtiofsd behind"
