#!/usr/bin/env bash
# End to end: an image that carries its own kernel (Debian's /vmlinuz and /initrd.img, made with
# mmdebstrap from deb.debian.org with linux-image-cloud-amd64 and initramfs-tools, kept in the
# test cache) boots that kernel through its own initramfs, its root on virtiofs, under
# runcvm-vm-init: uname -r is the image's kernel, exit codes and split stdio hold, docker exec
# works, a module of that kernel loads. Without virtiofs in its initramfs, the start fails in one
# line that says what is missing. RUNCVM_KERNEL still picks a bundle kernel. Heavy (several
# minutes): bash ci/test.sh --heavy.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
BUNDLE_KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
import_mmdebstrap_image runcvm-test/kernel-plain linux-image-cloud-amd64,initramfs-tools,kmod,udev
IMAGE_KERNEL=$(docker run --rm runcvm-test/kernel-plain readlink /vmlinuz | sed 's|.*/vmlinuz-||')
[[ -n "$IMAGE_KERNEL" && "$IMAGE_KERNEL" != "$BUNDLE_KERNEL" ]] || fail "the image's kernel \"$IMAGE_KERNEL\" is not distinct from the bundle's"

# Debian's initramfs as installed has no virtiofs module: one line, naming the fix.
rc=0
err=$(docker run --rm --runtime=runcvm runcvm-test/kernel-plain true 2>&1) || rc=$?
[[ $rc -ne 0 && $(grep -c '' <<<"$err") -eq 1 ]] || fail "an initramfs without virtiofs: exit $rc, output: $err"
assert_contains "$err" "Failed to mount runcvm-root" "the error for an initramfs without virtiofs"
assert_contains "$err" "add virtiofs to /etc/initramfs-tools/modules, then update-initramfs -u" "the error"
pass "an image kernel whose initramfs lacks virtiofs fails in one line, quoting its console and naming the fix"

# The fix a user makes, under runc: virtiofs in the initramfs.
id=$(docker run -d runcvm-test/kernel-plain sh -c 'echo virtiofs >>/etc/initramfs-tools/modules && update-initramfs -u')
[[ "$(docker wait "$id")" == 0 ]] || fail "update-initramfs: $(docker logs "$id" 2>&1 | tail -3)"
docker commit "$id" runcvm-test/kernel >/dev/null
docker rm "$id" >/dev/null

out=$(docker run --rm --runtime=runcvm runcvm-test/kernel uname -r)
[[ "$out" == "$IMAGE_KERNEL" ]] || fail "uname -r: \"$out\", expected the image's kernel $IMAGE_KERNEL"
rc=0
docker run --rm --runtime=runcvm runcvm-test/kernel sh -c 'echo to-stdout; echo to-stderr >&2; exit 7' \
  >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 7 && "$(cat "$SCRATCH/out")" == to-stdout && "$(cat "$SCRATCH/err")" == to-stderr ]] ||
  fail "exit $rc, stdout [$(cat "$SCRATCH/out")], stderr [$(cat "$SCRATCH/err")]"
pass "the image's own kernel $IMAGE_KERNEL boots through its initramfs; exit code 7 and split stdio hold"

id=$(docker run -d --runtime=runcvm --cap-add SYS_MODULE runcvm-test/kernel sleep 600)
on_exit "docker rm -f $id >/dev/null 2>&1"
out=$(docker exec "$id" sh -c 'uname -r; modprobe dummy && grep -o "^dummy " /proc/modules; grep -c eth0 /proc/net/dev')
[[ "$out" == "$IMAGE_KERNEL"$'\n'"dummy "$'\n'1 ]] || fail "docker exec in the image kernel's VM: $out"
docker rm -f "$id" >/dev/null
pass "docker exec reaches the VM; modprobe dummy loads the image kernel's own module; eth0 is there"

out=$(docker run --rm --runtime=runcvm -e RUNCVM_KERNEL=debian runcvm-test/kernel uname -r)
[[ "$out" == "$BUNDLE_KERNEL" ]] || fail "RUNCVM_KERNEL=debian booted $out, expected the bundle's $BUNDLE_KERNEL"
pass "RUNCVM_KERNEL=debian still boots the bundle's kernel ($BUNDLE_KERNEL) for an image with its own"
