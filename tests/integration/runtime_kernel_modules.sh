#!/usr/bin/env bash
# The VM kernel's own requests for modules (a link type, a netfilter expression, a filesystem) go
# to runcvm-modprobe from the bundle, not to the image's /sbin/modprobe: in a busybox image (no
# kmod, no /sbin/modprobe) `ip link add … type dummy` loads dummy.ko from the bundle kernel's tree.
# What the kernel lacks is named in one line in runcvm-init's log (and the VM's kernel log), never
# on the workload's stdout or stderr: here geneve, taken out of this test's copy of the tree's index
# as a kernel built without it would be (runcvm-minimal has no geneve at all, so the test holds for
# both of the toolchain's kernels). An image's own /sbin/modprobe is not what the kernel runs,
# and notices sent from the VM are bounded and printable (a forged one cannot add log lines).
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/modules debian
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
MODULES="$BUNDLE/kernels/debian/$KERNEL/modules"
[[ -f $MODULES/modules.dep ]] || fail "no modules.dep in the bundle kernel's tree $MODULES"
# A kernel without geneve: this bundle's index loses it (a new file; the test cache's stays whole).
grep -v '/geneve\.ko' "$MODULES/modules.dep" >"$MODULES/modules.dep.new"
mv "$MODULES/modules.dep.new" "$MODULES/modules.dep"

SCRIPT='
mkdir -p /sbin && printf "#!/bin/sh\ntouch /tmp/image-modprobe-ran\n" >/sbin/modprobe && chmod +x /sbin/modprobe
echo "helper $(cat /proc/sys/kernel/modprobe)"
ip link add d0 type dummy && echo "dummy $(grep -c "^dummy " /proc/modules)"
ip link add gn0 type geneve 2>/dev/null || echo "geneve refused"
[ -e /tmp/image-modprobe-ran ] && echo "image modprobe ran"
for i in 1 2 3 4 5 6 7 8 9 10; do dmesg | grep -q "runcvm-modprobe: kernel .* has no module for \"rtnl-link-geneve\"" && break; sleep 1; done
dmesg | grep -c "runcvm-modprobe: kernel .* has no module for \"rtnl-link-geneve\""
sleep 600'
id=$(docker run -d --runtime=runcvm --cap-add NET_ADMIN --cap-add SYSLOG -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/modules sh -c "$SCRIPT")
init=$(docker inspect -f '{{.State.Pid}}' "$id")
log="/proc/$init/root/.runcvm/runcvm-init.log"
for _ in $(seq 120); do grep -q "rtnl-link-geneve" "$log" 2>/dev/null && break; sleep 1; done
# The workload's own look at dmesg polls once a second: its count may come a little after the log.
for _ in $(seq 60); do
  out=$(docker logs "$id" 2>&1)
  (($(wc -l <<<"$out") >= 4)) && break
  sleep 1
done
expected="helper /opt/runcvm/bin/runcvm-modprobe
dummy 1
geneve refused
1"
[[ $out == "$expected" ]] || fail "in the VM: \"$out\", expected \"$expected\"; the VM's kernel log: $(docker exec "$id" dmesg | tail -3); runcvm-init's log: $(tail -3 "$log")"
pass "the VM's kernel asks runcvm-modprobe: dummy loaded from the bundle in an image without kmod; the image's /sbin/modprobe never ran"

notice=$(grep "rtnl-link-geneve" "$log" || true)
[[ $(wc -l <<<"$notice") -eq 1 && $notice == *"kernel $KERNEL has no module for \"rtnl-link-geneve\""*"RUNCVM_KERNEL"* ]] ||
  fail "runcvm-init's log should name the missing module in one line: \"$notice\"; log: $(tail -5 "$log")"
[[ $out != *"no module"* ]] || fail "the notice reached the workload's output: $out"
pass "what the kernel lacks, named in one line of runcvm-init's log: ${notice#runcvm-init: }"

# A forged notice from the VM (runcvm-modprobe run by hand, with escapes and newlines in its
# argument, 4 KB long): one printable line, bounded; the same notice twice is logged once. One
# from a user other than root (the kernel's helper runs as root) is dropped.
docker exec -u 65534 "$id" /opt/runcvm/bin/runcvm-modprobe -q from-nobody >/dev/null 2>&1 || true
docker exec "$id" sh -c 'n=$(printf "evil\nFORGED LINE\033[31m%04000d" 0); runcvm=/opt/runcvm/bin/runcvm-modprobe;
  $runcvm -q "$n" 2>/dev/null; $runcvm -q "$n" 2>/dev/null; true'
for _ in $(seq 30); do grep -q "evil" "$log" && break; sleep 1; done
[[ $(grep -c "evil" "$log") -eq 1 ]] || fail "the forged notice: $(grep -c evil "$log") lines with it, expected 1"
! grep -q "^FORGED LINE" "$log" || fail "a notice from the VM started a line of its own in runcvm-init's log"
! grep -qP '\x1b' "$log" || fail "an escape sequence from the VM reached runcvm-init's log"
(( $(grep "evil" "$log" | wc -c) < 1500 )) || fail "the forged notice was not bounded: $(grep "evil" "$log" | wc -c) bytes"
! grep -q "from-nobody" "$log" || fail "a notice sent by a user other than root reached runcvm-init's log"
pass "notices from the VM are one bounded printable line each, repeated ones logged once, none from other users than root"
