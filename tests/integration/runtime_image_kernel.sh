#!/usr/bin/env bash
# End to end: an image that carries its own kernel (Debian's /vmlinuz and /initrd.img, made with
# mmdebstrap from deb.debian.org with linux-image-cloud-amd64 and initramfs-tools, nothing
# changed, kept in the test cache) boots that kernel with runcvm's initramfs, built at start from
# that kernel's own fuse, virtiofs and virtio modules: its own initramfs lacks virtiofs
# (MODULES=most) and is never used. uname -r is the image's kernel, exit codes and split stdio
# hold, docker exec works, a module of that kernel loads. The same kernel rearranged as Ubuntu
# (/boot/vmlinuz -> vmlinuz-<v>) and Alpine (/boot/vmlinuz-virt) ship it boots too. Without
# virtiofs among its modules, or with a garbage one, the start fails in one line. RUNCVM_KERNEL
# still picks a bundle kernel. Heavy (several minutes): bash ci/test.sh --heavy.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
BUNDLE_KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
import_mmdebstrap_image runcvm-test/kernel-plain linux-image-cloud-amd64,initramfs-tools,kmod,udev
IMAGE_KERNEL=$(docker run --rm runcvm-test/kernel-plain readlink /vmlinuz | sed 's|.*/vmlinuz-||')
[[ -n "$IMAGE_KERNEL" && "$IMAGE_KERNEL" != "$BUNDLE_KERNEL" ]] || fail "the image's kernel \"$IMAGE_KERNEL\" is not distinct from the bundle's"
on_exit "docker rmi -f runcvm-test/kernel-plain runcvm-test/kernel-no-virtiofs runcvm-test/kernel-bad-virtiofs runcvm-test/kernel-ubuntu runcvm-test/kernel-alpine >/dev/null 2>&1"

# The stock image's initramfs has no virtiofs: it boots anyway, with the image's kernel.
docker run --rm runcvm-test/kernel-plain sh -c "lsinitramfs /boot/initrd.img-$IMAGE_KERNEL | grep -c virtiofs" >"$SCRATCH/count" || true
[[ "$(cat "$SCRATCH/count")" == 0 ]] || fail "the stock initramfs has virtiofs already: the test proves nothing"
started=$SECONDS
out=$(docker run --rm --runtime=runcvm runcvm-test/kernel-plain uname -r)
[[ "$out" == "$IMAGE_KERNEL" ]] || fail "uname -r: \"$out\", expected the image's kernel $IMAGE_KERNEL"
echo "# docker run of the stock image's kernel took $((SECONDS - started)) s"
rc=0
docker run --rm --runtime=runcvm runcvm-test/kernel-plain sh -c 'echo to-stdout; echo to-stderr >&2; exit 7' \
  >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
[[ $rc -eq 7 && "$(cat "$SCRATCH/out")" == to-stdout && "$(cat "$SCRATCH/err")" == to-stderr ]] ||
  fail "exit $rc, stdout [$(cat "$SCRATCH/out")], stderr [$(cat "$SCRATCH/err")]"
pass "the stock image's own kernel $IMAGE_KERNEL boots (its initramfs lacks virtiofs); exit code 7 and split stdio hold"

id=$(docker run -d --runtime=runcvm --cap-add SYS_MODULE runcvm-test/kernel-plain sleep 600)
on_exit "docker rm -f $id >/dev/null 2>&1"
out=$(docker exec "$id" sh -c 'uname -r; modprobe dummy && grep -o "^dummy " /proc/modules; grep -c eth0 /proc/net/dev; grep -o "^virtiofs " /proc/modules;
  ls /sys/bus/virtio/drivers/virtio_balloon | grep -c ^virtio')
[[ "$out" == "$IMAGE_KERNEL"$'\n'"dummy "$'\n'1$'\n'"virtiofs "$'\n'1 ]] || fail "docker exec in the image kernel's VM: $out"
docker rm -f "$id" >/dev/null
pass "docker exec reaches the VM; modprobe dummy loads the image kernel's own module; virtiofs is that kernel's module; eth0 is there; its balloon driver is bound (RUNCVM_BALLOON)"

# Under runc, the image changed as a user (or an attacker) might: one commit per variant.
variant() {  # NAME SCRIPT
  local cid
  cid=$(docker run -d runcvm-test/kernel-plain sh -ec "$2")
  [[ "$(docker wait "$cid")" == 0 ]] || fail "making $1: $(docker logs "$cid" 2>&1 | tail -3)"
  docker commit "$cid" "runcvm-test/$1" >/dev/null
  docker rm "$cid" >/dev/null
}
modules=/usr/lib/modules/$IMAGE_KERNEL

# Its virtiofs module removed (and depmod run): one line naming the version, the module and where.
variant kernel-no-virtiofs "rm $modules/kernel/fs/fuse/virtiofs.ko; depmod $IMAGE_KERNEL"
expect_one_line_error "the image's kernel \"$IMAGE_KERNEL\" has no module \"virtiofs\" (looked in /lib/modules/$IMAGE_KERNEL/modules.dep and modules.builtin)" \
  docker run --rm --runtime=runcvm runcvm-test/kernel-no-virtiofs true
pass "an image kernel without virtiofs fails in one line: $LAST_ERROR"

# A garbage virtiofs module: the VM's kernel refuses it; one line quoting the console.
variant kernel-bad-virtiofs "head -c 65536 /dev/urandom >$modules/kernel/fs/fuse/virtiofs.ko"
expect_one_line_error "loading module" docker run --rm --runtime=runcvm runcvm-test/kernel-bad-virtiofs true
assert_contains "$LAST_ERROR" "virtiofs.ko" "the error for a garbage module"
pass "an image kernel with a garbage virtiofs module fails in one line: $LAST_ERROR"

# Ubuntu's layout: /boot/vmlinuz and /boot/initrd.img link to the versioned files, no links at /.
# (Ubuntu's modules are .ko.zst, which its kernel decompresses itself; Debian bookworm's kernel,
# the only one reachable here, has no CONFIG_MODULE_DECOMPRESS, so its modules stay .ko.)
variant kernel-ubuntu "rm -f /vmlinuz /vmlinuz.old /initrd.img /initrd.img.old
  ln -s vmlinuz-$IMAGE_KERNEL /boot/vmlinuz; ln -s initrd.img-$IMAGE_KERNEL /boot/initrd.img"
out=$(docker run --rm --runtime=runcvm runcvm-test/kernel-ubuntu uname -r)
[[ "$out" == "$IMAGE_KERNEL" ]] || fail "Ubuntu layout: uname -r: \"$out\", expected $IMAGE_KERNEL"
pass "the kernel in Ubuntu's layout (/boot/vmlinuz -> vmlinuz-<v>) boots"

# Alpine's layout: /boot/vmlinuz-virt and /boot/initramfs-virt (here garbage: it is not used), the
# release known only from the one /lib/modules entry.
variant kernel-alpine "rm -f /vmlinuz /vmlinuz.old /initrd.img /initrd.img.old
  mv /boot/vmlinuz-$IMAGE_KERNEL /boot/vmlinuz-virt; rm /boot/initrd.img-$IMAGE_KERNEL
  head -c 4096 /dev/urandom >/boot/initramfs-virt"
out=$(docker run --rm --runtime=runcvm runcvm-test/kernel-alpine uname -r)
[[ "$out" == "$IMAGE_KERNEL" ]] || fail "Alpine layout: uname -r: \"$out\", expected $IMAGE_KERNEL"
pass "the kernel in Alpine's layout (/boot/vmlinuz-virt, a garbage /boot/initramfs-virt) boots"

out=$(docker run --rm --runtime=runcvm -e RUNCVM_KERNEL=debian runcvm-test/kernel-plain uname -r)
[[ "$out" == "$BUNDLE_KERNEL" ]] || fail "RUNCVM_KERNEL=debian booted $out, expected the bundle's $BUNDLE_KERNEL"
pass "RUNCVM_KERNEL=debian still boots the bundle's kernel ($BUNDLE_KERNEL) for an image with its own"
