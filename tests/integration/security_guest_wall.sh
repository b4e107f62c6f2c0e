#!/usr/bin/env bash
# The VM's wall, attacked from inside the VM and from the image, with a real dockerd under TCG
# (SECURITY.md: "Root in the VM gains nothing outside it", "The image cannot aim the runtime"):
#   1. root in the VM renames the ancestors of every path the container side used to reach after
#      boot (/opt, /etc, /var/run, the disks' directory), plants programs, a resolv.conf and FIFOs in their place
#      and tries to move /.runcvm; then docker exec, a health check, docker network connect, the
#      relayed docker.sock and docker stop all behave, and nothing planted ever runs outside the
#      VM (the payload records the kernel it runs on: never the host's);
#   2. no thread of runcvm-init, QEMU or virtiofsd holds CAP_SYS_ADMIN once the VM runs: a plain
#      container, one on a user network (the DNS forwarder's thread) and one with a bind-mounted
#      host socket (the relay's threads); QEMU holds no capability at all and runs as uid/gid
#      65510, with no_new_privs and its seccomp sandbox; virtiofsd runs under seccomp with a file
#      server's capabilities only, chrooted where nothing can be mapped executable; runcvm-init,
#      once its mounts are made, carries a filter that refuses any more;
#   3. images that aim the runtime's own mounts (/.runcvm or /opt a link, /opt/runcvm a file),
#      RUNCVM_DISKS out of the container's own files (`..`, the state directory, a link to /sys,
#      /proc's magic links), RUNCVM_KERNEL_APPEND and RUNCVM_QEMU_CPU against the host-wide KVM
#      verdict, and
#      RUNCVM_CPUS/RUNCVM_MEM/RUNCVM_HUGETLB past the operator's limits: each refused in one line
#      or contained, and nothing planted left on the host;
#   4. a neighbour on the VM's Docker network claims runcvm-init's address (169.254.77.1) by ARP:
#      it receives none of the VM's DNS or relayed-socket traffic, which still reaches runcvm-init.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
HOST_KERNEL=$(uname -r)
[[ "$KERNEL" != "$HOST_KERNEL" ]] || fail "the bundle kernel is the host's ($KERNEL): the test could not tell them apart"
import_busybox_image runcvm-test/busybox debian

# The host pids of a container's runcvm-init and of every process below it (QEMU, virtiofsd).
container_pids() {
  local pending next pid
  pending=$(docker inspect -f '{{.State.Pid}}' "$1")
  while [[ -n "$pending" ]]; do
    next=""
    for pid in $pending; do
      echo "$pid"
      next+=" $(cat /proc/"$pid"/task/*/children 2>/dev/null || true)"
    done
    pending=$(tr ' ' '\n' <<<"$next" | grep -v '^$' || true)
  done
}
# A docker run the runtime refuses: non-zero, and NEEDLE on one line of Docker's error.
expect_refused() {  # NEEDLE docker-run-args…
  local needle=$1 err rc=0
  shift
  err=$(timeout 120 docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg "$@" 2>&1 >/dev/null) || rc=$?
  [[ $rc -ne 0 ]] || fail "docker run $* was not refused"
  grep -F -- "$needle" <<<"$err" | grep -q "runcvm" || fail "docker run $*: expected \"$needle\", got: $err"
}
# The busybox image's files in a directory, to change and import again.
image_tree() {  # DIR
  local template
  mkdir -p "$1"
  template=$(docker create runcvm-test/busybox true)
  docker export "$template" | tar -C "$1" -x
  docker rm "$template" >/dev/null
}
image_with_env() {  # NAME BASE ENV…
  local name=$1 base=$2
  shift 2
  mkdir -p "$SCRATCH/env-image"
  { echo "FROM $base"; for e in "$@"; do echo "ENV $e"; done; } >"$SCRATCH/env-image/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$name" "$SCRATCH/env-image" >/dev/null
}

# --- 1. Nothing the guest plants runs outside the VM ------------------------------------------------
# The payload records, wherever it runs, the kernel it runs on, into a host directory that the
# container (and so the VM) has as /record. The image has no /opt: the VM's /opt is pure upper.
mkdir -p "$SCRATCH/record" "$SCRATCH/payload-image"
chmod 0777 "$SCRATCH/record"
printf '#!/bin/sh\necho "$(uname -r) $0" >>/record/ran\n' >"$SCRATCH/payload-image/payload"
chmod +x "$SCRATCH/payload-image/payload"
printf 'FROM runcvm-test/busybox\nCOPY payload /payload\n' >"$SCRATCH/payload-image/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t runcvm-test/payload "$SCRATCH/payload-image" >/dev/null
# overlayfs renames a directory of a lower layer (/etc: the image's and Docker's init layer) only
# with redirect_dir; hosts that turn it on let root in the VM move any directory. The container
# below is mounted with it (the module's default at mount time), put back when the test ends.
redirect_dir=/sys/module/overlay/parameters/redirect_dir
redirect_saved=""
if [[ -w $redirect_dir ]]; then
  redirect_saved=$(cat "$redirect_dir")
  on_exit "echo $redirect_saved >$redirect_dir"
  echo Y >"$redirect_dir"
fi
sock="$SCRATCH/dockerd/docker.sock"
[[ -S "$sock" ]] || fail "the test's dockerd has no socket at $sock"
cid=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -v "$SCRATCH/record:/record" \
  -v "$sock:/var/run/docker.sock" -e RUNCVM_DISKS=/disks/d.img,/data,ext4,64M \
  --health-cmd true --health-interval 2s --health-retries 30 runcvm-test/payload sleep 600)
on_exit "docker rm -f $cid >/dev/null 2>&1"
wait_for_vm "$cid"
[[ -z $redirect_saved ]] || echo "$redirect_saved" >"$redirect_dir"
# Root in the VM: every planted name a host-side lookup could once have found.
attack=$(docker exec "$cid" sh -c '
  mv /opt /opt.old && mkdir -p /opt/runcvm/bin || echo "cannot move /opt"
  for p in runcvm-exec runcvm-init busybox; do cp /payload /opt/runcvm/bin/$p; done
  for d in /bin /sbin /usr/bin /usr/sbin /usr/local/bin; do mkdir -p $d && cp /payload $d/runcvm-exec; done
  mv /etc /etc.old && mkdir /etc && cp /etc.old/passwd /etc.old/group /etc/ || echo "cannot move /etc"
  printf "nameserver 127.0.0.11\nsearch runcvm-planted.example\n" >/etc/resolv.conf
  mkdir -p /var/run && mv /var/run /var/run.old && mkdir /var/run && mkfifo /var/run/docker.sock || echo "cannot move /var/run"
  mv /disks /disks.old && mkdir /disks && mkfifo /disks/d.img || echo "cannot move /disks"
  mv /.runcvm /.runcvm.moved 2>/dev/null && echo "MOVED THE STATE DIRECTORY"
  mkdir -p /.runcvm.planted/bin && cp /payload /.runcvm.planted/bin/runcvm-exec
  echo attacked' 2>&1)
assert_contains "$attack" attacked "the attack in the VM"
[[ "$attack" != *"cannot move"* ]] || fail "root in the VM could not rearrange its tree as an attacker would: $attack"
[[ "$attack" != *"MOVED THE STATE DIRECTORY"* ]] || fail "root in the VM moved /.runcvm, a mount point"
out=$(docker exec "$cid" uname -r) || fail "docker exec after the attack failed: $out"
[[ "$out" == "$KERNEL" ]] || fail "docker exec after the attack ran on $out, not in the VM ($KERNEL)"
# The health check runs through the same exec path.
for _ in $(seq 60); do
  [[ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" == healthy ]] && break
  sleep 1
done
[[ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" == healthy ]] ||
  fail "the health check after the attack: $(docker inspect -f '{{json .State.Health}}' "$cid" | head -c 600)"
# The relayed docker.sock still reaches the host's dockerd, not the VM's FIFO.
ping=$(docker exec "$cid" sh -c 'printf "GET /_ping HTTP/1.0\r\n\r\n" | nc 169.254.77.1 17700' 2>&1 || true)
assert_contains "$ping" "OK" "the relayed docker.sock after the attack"
# A network change makes runcvm-init read Docker's resolv.conf again: the one it holds, not the FIFO.
docker_network wallnet
docker network connect wallnet "$cid"
for _ in $(seq 100); do
  [[ "$(docker exec "$cid" sh -c 'ls /sys/class/net' | grep -c '^eth')" -ge 2 ]] && break
  sleep 0.3
done
[[ "$(docker exec "$cid" sh -c 'ls /sys/class/net' | grep -c '^eth')" -ge 2 ]] ||
  fail "docker network connect after the attack: the VM has $(docker exec "$cid" ls /sys/class/net | tr '\n' ' ')"
# Docker's resolv.conf (now Docker's embedded DNS) reaches the VM, not the one the guest planted.
for _ in $(seq 50); do docker exec "$cid" cat /etc/resolv.conf | grep -q 169.254.77.1 && break; sleep 0.2; done
resolv=$(docker exec "$cid" cat /etc/resolv.conf)
assert_contains "$resolv" "169.254.77.1" "the VM's resolv.conf after joining a user network"
[[ "$resolv" != *runcvm-planted* ]] || fail "runcvm-init read the resolv.conf the guest planted: $resolv"
start=$(date +%s)
docker stop -t 20 "$cid" >/dev/null
(( $(date +%s) - start < 30 )) || fail "docker stop after the attack took $(( $(date +%s) - start )) s"
if grep -v "^$KERNEL " "$SCRATCH/record/ran" 2>/dev/null; then
  fail "a program the guest planted ran outside the VM (above: kernel, path)"
fi
docker rm -f "$cid" >/dev/null
pass "root in the VM moved /opt, /etc, /var/run and /disks and planted programs, a resolv.conf and FIFOs: exec, health checks, network connect, the relayed socket and stop work, and nothing planted ran outside the VM"

# --- 2. CAP_SYS_ADMIN is gone from every thread once the VM runs; QEMU holds nothing -----------------------------------
docker_network capnet
plain=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/busybox sleep 600)
on_exit "docker rm -f $plain >/dev/null 2>&1"
dns=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg --network capnet runcvm-test/busybox sleep 600)
on_exit "docker rm -f $dns >/dev/null 2>&1"
relay=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -v "$sock:/var/run/docker.sock" runcvm-test/busybox sleep 600)
on_exit "docker rm -f $relay >/dev/null 2>&1"
runc_container=$(docker run -d --runtime=runc runcvm-test/busybox sleep 600)
on_exit "docker rm -f $runc_container >/dev/null 2>&1"
runc_filters=$(awk '$1 == "Seccomp_filters:" {print $2}' /proc/"$(docker inspect -f '{{.State.Pid}}' "$runc_container")"/status)
[[ $runc_filters =~ ^[1-9][0-9]*$ ]] || fail "a runc container's PID 1 has Seccomp_filters \"$runc_filters\""
docker rm -f "$runc_container" >/dev/null
for c in "$plain" "$dns" "$relay"; do
  wait_for_vm "$c"
  init=$(docker inspect -f '{{.State.Pid}}' "$c")
  tasks=0
  for pid in $(container_pids "$c"); do
    for status in /proc/"$pid"/task/*/status; do
      tasks=$((tasks + 1))
      for set in CapEff CapPrm CapBnd; do
        value=$(awk -v s="$set:" '$1 == s {print $2}' "$status")
        (( (0x$value >> 21) & 1 )) && fail "$status ($(head -1 "$status")) holds CAP_SYS_ADMIN in $set ($value)"
      done
    done
  done
  (( tasks >= 3 )) || fail "found only $tasks tasks of container $c"
  # QEMU holds no capability at all and cannot gain one; virtiofsd runs in its own seccomp filter.
  for pid in $(container_pids "$c"); do
    case $(tr '\0' ' ' <"/proc/$pid/cmdline") in
      *qemu-system-x86_64*)
        for field in CapInh CapPrm CapEff CapBnd CapAmb; do
          [[ "$(awk -v s="$field:" '$1 == s {print $2}' /proc/"$pid"/status)" =~ ^0+$ ]] ||
            fail "QEMU (pid $pid) has $(grep "^$field" /proc/"$pid"/status)"
        done
        [[ "$(awk '$1 == "NoNewPrivs:" {print $2}' /proc/"$pid"/status)" == 1 ]] || fail "QEMU (pid $pid) may gain privileges"
        [[ "$(awk '$1 == "Seccomp:" {print $2}' /proc/"$pid"/status)" == 2 ]] || fail "QEMU (pid $pid) runs without its seccomp sandbox"
        # A uid and gid of its own (65510): no file of the container's is QEMU's by ownership.
        for field in Uid Gid; do
          [[ "$(awk -v s="$field:" '$1 == s {print $2, $3, $4, $5}' /proc/"$pid"/status)" == "65510 65510 65510 65510" ]] ||
            fail "QEMU (pid $pid) runs as $(grep "^$field" /proc/"$pid"/status)"
        done
        qemu_seen=1 ;;
      *virtiofsd*)
        [[ "$(awk '$1 == "Seccomp:" {print $2}' /proc/"$pid"/status)" == 2 ]] || fail "virtiofsd (pid $pid) runs without seccomp"
        # A file server's capabilities and no other (CHOWN DAC_OVERRIDE FOWNER FSETID SETGID SETUID
        # MKNOD SETFCAP), and an empty bounding set: nothing it could run would gain one.
        for expected in CapEff:00000000880000db CapPrm:00000000880000db CapBnd:0000000000000000; do
          [[ "$(awk -v s="${expected%%:*}:" '$1 == s {print $1 $2}' /proc/"$pid"/status)" == "$expected" ]] ||
            fail "virtiofsd (pid $pid) has $(grep "^${expected%%:*}" /proc/"$pid"/status), not $expected"
        done
        # Chrooted into the share, whose every mount is noexec, nosuid and nodev: no library of the
        # image's can be mapped into it.
        while read -r _ _ _ _ point options _; do
          for flag in noexec nosuid nodev; do
            [[ ",$options," == *",$flag,"* ]] || fail "virtiofsd (pid $pid) sees $point without $flag ($options)"
          done
        done </proc/"$pid"/mountinfo
        (( $(wc -l </proc/"$pid"/mountinfo) >= 2 )) || fail "virtiofsd (pid $pid) sees only $(cat /proc/"$pid"/mountinfo)"
        virtiofsd_seen=1 ;;
    esac
  done
  # The mounts runcvm-init made are its last: a filter of its own on top of runc's (as many as a
  # runc container's PID 1 has) refuses every mount call to it, its threads and its helpers.
  [[ "$(awk '$1 == "Seccomp_filters:" {print $2}' /proc/"$init"/status)" == $(( runc_filters + 1 )) ]] ||
    fail "runcvm-init of $c has $(grep Seccomp_filters /proc/"$init"/status), a runc container's PID 1 $runc_filters"
  [[ $c == "$plain" ]] || (( $(ls /proc/"$init"/task | wc -l) > 1 )) ||
    fail "runcvm-init of $c has no thread of its own: the test would not see one keep SYS_ADMIN"
done
[[ -n ${qemu_seen:-} && -n ${virtiofsd_seen:-} ]] || fail "no QEMU or no virtiofsd found among the containers' processes"
docker rm -f "$plain" "$dns" "$relay" >/dev/null
pass "no task of runcvm-init, QEMU or virtiofsd holds CAP_SYS_ADMIN (plain, user network's DNS thread, socket relays); QEMU holds no capability, runs as 65510 with no_new_privs and seccomp; virtiofsd holds a file server's capabilities in a noexec root; runcvm-init's mounts are sealed"

# --- 3. The image cannot aim the runtime's mounts, files or the host's state -----------------------
for case in state-link opt-link bundle-file; do
  tree="$SCRATCH/tree-$case"
  image_tree "$tree"
  case $case in
    state-link) ln -s ../../kvm "$tree/.runcvm"; point=/.runcvm ;;
    opt-link) rm -rf "$tree/opt"; ln -s /srv "$tree/opt"; point=/opt ;;
    bundle-file) mkdir -p "$tree/opt"; echo x >"$tree/opt/runcvm"; point=/opt/runcvm ;;
  esac
  tar -C "$tree" -c . | docker import - "runcvm-test/aim-$case" >/dev/null
  expect_refused "the image's \"$point\" is a link or not a directory" "runcvm-test/aim-$case" true
done
pass "an image whose /.runcvm or /opt is a link, or whose /opt/runcvm is a file, is refused in one line"

image_with_env runcvm-test/disk-state runcvm-test/busybox 'RUNCVM_DISKS=/.runcvm/kvm/runcvm-planted.img,/data,ext4,64M'
expect_refused '<src> must not be in /.runcvm' runcvm-test/disk-state true
image_with_env runcvm-test/disk-dots runcvm-test/busybox 'RUNCVM_DISKS=/disks/../.runcvm/runcvm-planted.img,/data,ext4,64M'
expect_refused '<src> must not have `.` or `..` steps' runcvm-test/disk-dots true
image_with_env runcvm-test/disk-proc runcvm-test/busybox 'RUNCVM_DISKS=/proc/1/root/runcvm-planted.img,/data,ext4,64M'
expect_refused '<src> must not be in /proc' runcvm-test/disk-proc true
tree="$SCRATCH/tree-disk-links"
image_tree "$tree"
ln -s /sys/kernel "$tree/sysdata"
ln -s /proc/self/root/.runcvm "$tree/statedisks"
tar -C "$tree" -c . | docker import - runcvm-test/disk-links-base >/dev/null
image_with_env runcvm-test/disk-sys runcvm-test/disk-links-base 'RUNCVM_DISKS=/disks/runcvm-planted.img,/sysdata,ext4,64M'
expect_refused "leads into a place that is runcvm's or the kernel's" runcvm-test/disk-sys true
image_with_env runcvm-test/disk-magic runcvm-test/disk-links-base 'RUNCVM_DISKS=/statedisks/runcvm-planted.img,/data,ext4,64M'
expect_refused 'RUNCVM_DISKS: resolving' runcvm-test/disk-magic true
# The image's own kernel whose modules.dep is a link into runc's /proc (the image holds a file at
# the link's target, as the runtime's check at create finds it): runcvm-init would have copied
# the container's mount table into the guest's memory. Its initrd, linked there too, is never read.
tree="$SCRATCH/tree-initrd-link"
image_tree "$tree"
echo "not a kernel" >"$tree/vmlinuz"
mkdir -p "$tree/proc/self" "$tree/lib/modules/6.1.0-99-amd64"
echo "the image's own" >"$tree/proc/self/mountinfo"
ln -s /proc/self/mountinfo "$tree/initrd.img"
ln -s /proc/self/mountinfo "$tree/lib/modules/6.1.0-99-amd64/modules.dep"
tar -C "$tree" -c . | docker import - runcvm-test/initrd-link >/dev/null
expect_refused "the image's kernel modules: \"/lib/modules/6.1.0-99-amd64/modules.dep\" leads into a place that is runcvm's or the kernel's" \
  runcvm-test/initrd-link true
# With a /dev/kvm in the spec the host's verdict directory is bound at /.runcvm/kvm: the image
# aims a disk's temporary file and a --read-only mount point at it through plain links.
tree="$SCRATCH/tree-aim-kvm"
image_tree "$tree"
mkdir -p "$tree/disks"
ln -s /.runcvm/kvm/runcvm-planted-tmp "$tree/disks/.runcvm-planted.img.tmp-1-0"
ln -s /.runcvm/kvm "$tree/srv"
tar -C "$tree" -c . | docker import - runcvm-test/aim-kvm-base >/dev/null
image_with_env runcvm-test/aim-kvm runcvm-test/aim-kvm-base 'RUNCVM_DISKS=/disks/runcvm-planted.img,/data,ext4,64M'
kvm_aimed() {  # NEEDLE docker-run-args…
  local needle=$1 err rc=0
  shift
  err=$(timeout 120 docker run --rm --runtime=runcvm --device /dev/null:/dev/kvm "$@" 2>&1 >/dev/null) || rc=$?
  [[ $rc -ne 0 ]] || fail "docker run $* was not refused"
  assert_contains "$err" "$needle" "docker run $*"
}
kvm_aimed "RUNCVM_DISKS: creating" runcvm-test/aim-kvm true
kvm_aimed "leads into a place that is runcvm's or the kernel's" --read-only --tmpfs /srv/runcvm-planted-dir \
  runcvm-test/aim-kvm-base true
planted=$(find /run /tmp /var/lib /root -xdev -name 'runcvm-planted*' 2>/dev/null | grep -v "^$SCRATCH/tree-" || true)
[[ -z "$planted" ]] || fail "a disk the image named was created on the host: $planted"
pass "RUNCVM_DISKS from the image (\`..\`, the state directory, /proc, a link to /sys, /proc's magic links, a planted temporary name) and --read-only mount points through links into the host's verdicts, an image kernel's modules.dep linked into /proc: refused in one line; nothing created"

image_with_env runcvm-test/too-many-cpus runcvm-test/busybox RUNCVM_CPUS=256
expect_refused "RUNCVM_CPUS: 256 is more than the container may use" runcvm-test/too-many-cpus true
expect_refused "RUNCVM_CPUS: 256 is more than the container may use" --cpus 1 runcvm-test/too-many-cpus true
image_with_env runcvm-test/too-much-memory runcvm-test/busybox RUNCVM_MEM=64T
expect_refused "more than the host's memory" runcvm-test/too-much-memory true
image_with_env runcvm-test/huge-pages runcvm-test/busybox RUNCVM_HUGETLB=1 RUNCVM_MEM=4G
expect_refused "more than a VM of huge pages may have without -m" runcvm-test/huge-pages true
pass "RUNCVM_CPUS, RUNCVM_MEM and RUNCVM_HUGETLB from the image stay within the operator's limits or the host's size"

# A /dev/kvm that cannot boot the VM (/dev/null passed as /dev/kvm: QEMU's KVM set-up fails). The
# image's own kernel command line must not record the host-wide verdict; runcvm's own does.
rm -f $(kvm_verdict_files)
image_with_env runcvm-test/append runcvm-test/busybox 'RUNCVM_KERNEL_APPEND=quiet'
out=$(timeout 120 docker run --rm --runtime=runcvm --device /dev/null:/dev/kvm runcvm-test/append echo appended 2>&1) ||
  fail "with RUNCVM_KERNEL_APPEND on a KVM that cannot boot: $out"
assert_contains "$out" appended "the container with RUNCVM_KERNEL_APPEND"
[[ -z "$(kvm_verdict_files)" ]] || fail "the image's RUNCVM_KERNEL_APPEND recorded a host-wide KVM verdict: $(cat $(kvm_verdict_files))"
image_with_env runcvm-test/cpu-model runcvm-test/busybox 'RUNCVM_QEMU_CPU=max'
out=$(timeout 120 docker run --rm --runtime=runcvm --device /dev/null:/dev/kvm runcvm-test/cpu-model echo cpu 2>&1) ||
  fail "with RUNCVM_QEMU_CPU on a KVM that cannot boot: $out"
[[ -z "$(kvm_verdict_files)" ]] || fail "the image's RUNCVM_QEMU_CPU recorded a host-wide KVM verdict: $(cat $(kvm_verdict_files))"
out=$(timeout 120 docker run --rm --runtime=runcvm --device /dev/null:/dev/kvm runcvm-test/busybox echo plain 2>&1) ||
  fail "on a KVM that cannot boot: $out"
[[ -n "$(kvm_verdict_files)" ]] || fail "runcvm's own command line on a KVM that cannot boot recorded no verdict"
rm -f $(kvm_verdict_files)
pass "a KVM failure with the image's RUNCVM_KERNEL_APPEND or RUNCVM_QEMU_CPU records no host-wide verdict; one with runcvm's own does"

# --- 4. A neighbour on the Docker network cannot take runcvm-init's address over ------------------
# A runc container on the VM's user network with Docker's default capabilities (NET_RAW) claims
# 169.254.77.1 with gratuitous ARP and answers every ARP request for it, and counts the IPv4
# frames for that address that reach it. The VM pins the address to runcvm-init's MAC.
cat >"$SCRATCH/arp_claim.c" <<'C'
/* usage: arp_claim IFNAME SECONDS: claims 169.254.77.1 on IFNAME; prints "captured N" at the end. */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static unsigned char mac[6], target[4] = {169, 254, 77, 1};
static int fd, ifindex;
static void send_arp(int op, const unsigned char *to_mac, const unsigned char *to_ip) {
  unsigned char frame[42];
  struct ether_header *eth = (void *)frame;
  struct ether_arp *arp = (void *)(frame + 14);
  memcpy(eth->ether_dhost, to_mac, 6); memcpy(eth->ether_shost, mac, 6); eth->ether_type = htons(ETHERTYPE_ARP);
  arp->arp_hrd = htons(ARPHRD_ETHER); arp->arp_pro = htons(ETHERTYPE_IP); arp->arp_hln = 6; arp->arp_pln = 4;
  arp->arp_op = htons(op);
  memcpy(arp->arp_sha, mac, 6); memcpy(arp->arp_spa, target, 4);
  memcpy(arp->arp_tha, op == ARPOP_REQUEST ? (unsigned char[6]){0} : to_mac, 6); memcpy(arp->arp_tpa, to_ip, 4);
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
  memcpy(to.sll_addr, to_mac, 6);
  sendto(fd, frame, sizeof frame, 0, (struct sockaddr *)&to, sizeof to);
}
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  struct ifreq req = {0};
  snprintf(req.ifr_name, sizeof req.ifr_name, "%s", argv[1]);
  if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &req) != 0) { perror("arp_claim"); return 2; }
  memcpy(mac, req.ifr_hwaddr.sa_data, 6);
  ifindex = (int)if_nametoindex(argv[1]);
  struct sockaddr_ll at = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
  bind(fd, (struct sockaddr *)&at, sizeof at);
  static const unsigned char broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  long captured = 0;
  time_t end = time(NULL) + atoi(argv[2]);
  while (time(NULL) < end) {
    send_arp(ARPOP_REQUEST, broadcast, target);  /* gratuitous: "169.254.77.1 is at my MAC" */
    send_arp(ARPOP_REPLY, broadcast, target);
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 100) > 0) {
      unsigned char frame[2048];
      ssize_t n = recv(fd, frame, sizeof frame, 0);
      if (n < 42) continue;
      struct ether_header *eth = (void *)frame;
      if (ntohs(eth->ether_type) == ETHERTYPE_ARP) {  /* someone asks for 169.254.77.1: answer first */
        struct ether_arp *arp = (void *)(frame + 14);
        if (ntohs(arp->arp_op) == ARPOP_REQUEST && memcmp(arp->arp_tpa, target, 4) == 0 && memcmp(arp->arp_sha, mac, 6) != 0)
          send_arp(ARPOP_REPLY, arp->arp_sha, arp->arp_spa);
      } else if (ntohs(eth->ether_type) == ETHERTYPE_IP && memcmp(frame + 14 + 16, target, 4) == 0 &&
                 memcmp(eth->ether_shost, mac, 6) != 0) {
        captured++;
      }
    }
  }
  printf("captured %ld\n", captured);
  return 0;
}
C
mkdir -p "$SCRATCH/arp-image"
cc -static -O2 -o "$SCRATCH/arp-image/arp_claim" "$SCRATCH/arp_claim.c"
printf 'FROM runcvm-test/busybox\nCOPY arp_claim /arp_claim\n' >"$SCRATCH/arp-image/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t runcvm-test/arp-claim "$SCRATCH/arp-image" >/dev/null
docker_network arpnet
vmc=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg --network arpnet --name wall-vm \
  -v "$sock:/var/run/docker.sock" runcvm-test/busybox sleep 600)
on_exit "docker rm -f $vmc >/dev/null 2>&1"
wait_for_vm "$vmc"
neighbour=$(docker run -d --network arpnet --name wall-neighbour runcvm-test/arp-claim /arp_claim eth0 25)
on_exit "docker rm -f $neighbour >/dev/null 2>&1"
neighbour_ip=$(address_on "$neighbour" arpnet)
sleep 3  # past the VM's ARP lock time: an unpinned entry would have been taken over by now
answers=$(docker exec -e NEIGHBOUR_IP="$neighbour_ip" "$vmc" sh -c '
  for i in 1 2 3 4 5; do
    nslookup wall-neighbour 2>&1 | grep -c "$NEIGHBOUR_IP" || true
    printf "GET /_ping HTTP/1.0\r\n\r\n" | nc 169.254.77.1 17700 2>&1 | grep -c "^OK" || true
    sleep 2
  done; ip neigh show 169.254.77.1' 2>&1)
captured=$(docker wait "$neighbour" >/dev/null; docker logs "$neighbour" 2>&1)
[[ "$captured" == "captured 0" ]] || fail "a neighbour on the Docker network received the VM's traffic for 169.254.77.1: $captured"
grep -q "PERMANENT" <<<"$answers" || fail "the VM's neighbour entry for 169.254.77.1 is not pinned: $answers"
! grep -qx 0 <<<"$answers" || fail "the VM's DNS or relayed socket stopped answering under the neighbour's ARP: $answers"
docker rm -f "$vmc" "$neighbour" >/dev/null
pass "a neighbour claiming 169.254.77.1 by ARP for 25 s receives nothing; the VM's DNS and relayed docker.sock still reach runcvm-init"
