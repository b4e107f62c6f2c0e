#!/usr/bin/env bash
# Docker 26 and later: Debian trixie's docker.io (26.x, with its containerd and runc) in a trixie
# root made with mmdebstrap (lib.sh: start_trixie_dockerd), driven by its own CLI. Docker 26
# attaches a container's networks after `runc create`, where 20.10 did it in a prestart hook: the
# VM still gets its interfaces, Docker's DNS (a VM reaches another by name on a user network),
# published ports, a second network connected before start; exit codes, stdout/stderr apart and
# `docker exec` as under 20.10. Its dockerd runs without the userland proxy: -p by iptables alone,
# bridge ports in hairpin mode. runtime_network.sh and runtime_exec.sh also run against it in the
# default configuration (RUNCVM_TEST_DOCKERD=trixie).
# Heavy (a few hundred MB from deb.debian.org the first time): bash ci/test.sh --heavy.
source "$(dirname "$0")/lib.sh"

export RUNCVM_TEST_DOCKERD=trixie
# Without its userland proxy, dockerd publishes ports with iptables alone and puts every bridge
# port in hairpin mode, which sends the VM's broadcasts back to it (runtime_network_docker26 runs
# the default configuration).
start_dockerd_with_runcvm '"userland-proxy": false'
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
version=$(d26 version --format '{{.Server.Version}}') || fail "trixie's docker CLI: $version"
[[ ${version%%.*} -ge 26 ]] || fail "trixie's dockerd is $version, expected 26 or later"
[[ $(d26 info 2>/dev/null) == *"Runtimes:"*runcvm* ]] || fail "dockerd $version did not register runcvm"
import_busybox_image runcvm-test/vm debian
vm26() { d26 run --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg "$@"; }
pass "dockerd $version (Debian trixie) runs with runcvm registered"

rc=0
vm26 --rm runcvm-test/vm sh -c 'uname -r; echo to-stderr >&2; exit 3' >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 3 ]] || fail "docker $version run: exit code $rc, expected 3; stderr: $(cat "$SCRATCH/err")"
[[ $(cat "$SCRATCH/out") == "$KERNEL" && $(cat "$SCRATCH/err") == to-stderr ]] ||
  fail "docker $version run: stdout \"$(cat "$SCRATCH/out")\", stderr \"$(cat "$SCRATCH/err")\""
pass "docker $version run: the VM's kernel, exit code 3, stdout and stderr apart"

d26 network create runcvm-net26 >/dev/null
d26 network create runcvm-net26b >/dev/null
PORT=$(free_port)
vm26 -d --name web --network runcvm-net26 -p "127.0.0.1:$PORT:80" runcvm-test/vm \
  sh -c "$WEB_SERVER" web >/dev/null
rc=0
out=$(vm26 --rm --network runcvm-net26 runcvm-test/vm \
  sh -c 'for i in $(seq 120); do wget -qO- http://web/ && exit 7; sleep 1; done; exit 1' 2>"$SCRATCH/err") || rc=$?
[[ $rc -eq 7 && $out == "web in $KERNEL" ]] || fail "by name on a user network: exit $rc, \"$out\", $(tail -2 "$SCRATCH/err")"
bridge=br-$(d26 network inspect -f '{{.Id}}' runcvm-net26 | cut -c1-12)
hairpin=$(cat /sys/class/net/"$bridge"/brif/*/hairpin_mode | sort -u)
[[ $hairpin == 1 ]] || fail "the ports of $bridge are not all in hairpin mode: $hairpin"
pass "on a user network a VM reaches another by name through Docker $version's DNS, its bridge in hairpin mode"

got=""
for _ in $(seq 60); do got=$(curl -s --max-time 2 "http://127.0.0.1:$PORT/") && [[ -n $got ]] && break; sleep 1; done
[[ $got == "web in $KERNEL" ]] || fail "-p $PORT:80: got \"$got\""
rc=0; out=$(d26 exec web sh -c 'uname -r; exit 5') || rc=$?
[[ $rc -eq 5 && $out == "$KERNEL" ]] || fail "docker exec: exit code $rc, output: $out"
pass "-p publishes the VM's port; docker exec runs in the VM with its exit code"

# A second network connected between create and start: two interfaces, both with their addresses.
d26 create --name two --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg --network runcvm-net26 runcvm-test/vm \
  sh -c 'ip -o -4 addr show | grep -v " lo " | wc -l; wget -qO- http://web/' >/dev/null
d26 network connect runcvm-net26b two
rc=0; out=$(d26 start -a two) || rc=$?
[[ $rc -eq 0 && $out == $'2\n'"web in $KERNEL" ]] || fail "two networks: exit $rc, output: $out"
pass "a network connected before start is the VM's second interface"

d26 stop -t 5 web >/dev/null || fail "docker stop failed"
[[ $(d26 inspect -f '{{.State.Running}}' web) == false ]] || fail "web still runs after docker stop"
pass "docker stop ends the VM"
