#!/usr/bin/env bash
# The initramfs runcvm-init builds for an image's own kernel, booted under bare QEMU (TCG, no
# dockerd): a stock Debian bookworm root with linux-image-cloud-amd64 (mmdebstrap, kept in the test
# cache, the image runtime_image_kernel.sh runs) gives its kernel and /lib/modules; the archive of
# runcvm-initramfs-init and that kernel's own virtio, fuse and virtiofs modules mounts the virtiofs
# root and runs a probe as PID 1. The same modules xz-compressed, which this kernel cannot
# decompress (no CONFIG_MODULE_DECOMPRESS), stop the boot with one line that says so.
source "$(dirname "$0")/lib.sh"

mmdebstrap_tar bookworm linux-image-cloud-amd64,initramfs-tools,kmod,udev
ROOT="$SCRATCH/root"
mkdir -p "$ROOT"
tar -xf "$MMDEBSTRAP_TAR" -C "$ROOT" ./lib ./boot ./usr/lib/modules
VERSION=$(ls "$ROOT/usr/lib/modules")
[[ -n "$VERSION" && -f "$ROOT/boot/vmlinuz-$VERSION" ]] || fail "no kernel in the image: $(ls "$ROOT/boot")"
SHARE="$SCRATCH/share"
mkdir -p "$SHARE" "$SCRATCH/k"
cp "$BUILD_DIR/tests/runcvm-boot-probe" "$SHARE/probe"
cp "$ROOT/boot/vmlinuz-$VERSION" "$SCRATCH/k/vmlinuz"

"$BUILD_DIR/tests/runcvm-test-image-initramfs" "$ROOT" "$VERSION" q35 "$BUILD_DIR/bin/runcvm-initramfs-init" \
  "$SCRATCH/k/initrd" || fail "building the initramfs"
listing=$(cpio -it <"$SCRATCH/k/initrd" 2>/dev/null | sort | tr '\n' ' ')
expected="dev dev/console init modules modules/fuse.ko modules/load-order modules/virtio.ko modules/virtio_pci.ko modules/virtio_pci_legacy_dev.ko modules/virtio_pci_modern_dev.ko modules/virtio_ring.ko modules/virtiofs.ko newroot proc sys "
[[ "$listing" == "$expected" ]] || fail "cpio listing: $listing"
cmp -s <(cpio -i --to-stdout init <"$SCRATCH/k/initrd" 2>/dev/null) "$BUILD_DIR/bin/runcvm-initramfs-init" ||
  fail "the archive's init is not runcvm-initramfs-init"
pass "cpio (read by GNU cpio): runcvm-initramfs-init and $VERSION's own virtio, virtio_pci, fuse and virtiofs modules"

start=$(date +%s%N)
boot_with_virtiofs "$SCRATCH/k" "$SHARE" /probe "$SCRATCH/console.log" runcvm.debug ||
  fail "QEMU failed: $(tail -20 "$SCRATCH/console.log")"
elapsed=$((($(date +%s%N) - start) / 1000000))
console=$(tr -d '\r' <"$SCRATCH/console.log")
assert_contains "$console" "runcvm-initramfs: loaded virtiofs.ko" "console"
assert_contains "$console" "runcvm-initramfs: mounted virtiofs runcvm-root" "console"
assert_contains "$console" "runcvm-probe: pid=1 argv0=/probe" "console"
assert_contains "$console" "runcvm-probe: release=$VERSION" "console"
assert_contains "$console" "runcvm-probe: root=virtiofs" "console"
grep -q "runcvm-probe: modules=.*\bvirtiofs\b" <<<"$console" || fail "virtiofs is not loaded: $console"
pass "the image's stock kernel $VERSION booted under TCG in $elapsed ms with it: modules loaded, virtiofs root, /probe as PID 1"

# xz-compressed modules (as Debian trixie ships them) in a root of their own.
XZ="$SCRATCH/xz-root"
mkdir -p "$XZ/lib/modules/$VERSION" "$SCRATCH/kxz"
modules="$ROOT/usr/lib/modules/$VERSION"
grep -E '^kernel/(drivers/virtio|fs/fuse)/' "$modules/modules.dep" | sed 's/\.ko/.ko.xz/g' >"$XZ/lib/modules/$VERSION/modules.dep"
cp "$modules/modules.builtin" "$XZ/lib/modules/$VERSION/"
for f in $(grep -oE 'kernel/(drivers/virtio|fs/fuse)/[^ :]*\.ko' "$modules/modules.dep" | sort -u); do
  mkdir -p "$XZ/lib/modules/$VERSION/$(dirname "$f")"
  xz -c --check=crc32 "$modules/$f" >"$XZ/lib/modules/$VERSION/$f.xz"
done
cp "$SCRATCH/k/vmlinuz" "$SCRATCH/kxz/vmlinuz"
"$BUILD_DIR/tests/runcvm-test-image-initramfs" "$XZ" "$VERSION" q35 "$BUILD_DIR/bin/runcvm-initramfs-init" \
  "$SCRATCH/kxz/initrd" || fail "building the xz initramfs"
cpio -it <"$SCRATCH/kxz/initrd" 2>/dev/null | grep -qx modules/virtiofs.ko.xz || fail "the xz module is not kept as shipped"
BOOT_TIMEOUT=120 boot_with_virtiofs "$SCRATCH/kxz" "$SHARE" /probe "$SCRATCH/console-xz.log" || true
errors=$(tr -d '\r' <"$SCRATCH/console-xz.log" | grep 'runcvm-initramfs: error' || true)
[[ $(grep -c '' <<<"$errors") -eq 1 ]] || fail "expected one error line: $(tail -5 "$SCRATCH/console-xz.log")"
assert_contains "$errors" "loading module \"/modules/virtio.ko.xz\": Operation not supported (the kernel cannot decompress it: no CONFIG_MODULE_DECOMPRESS)" "the console"
pass "compressed modules go in as shipped; a kernel that cannot decompress them stops in one line: $errors"
