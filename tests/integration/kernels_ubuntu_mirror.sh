#!/usr/bin/env bash
# runcvm-build kernels against a local Ubuntu-style mirror (archive.ubuntu.com is not reachable
# here): signed InRelease, Packages.xz, linux-image-virtual -> linux-image-<v>-generic ->
# linux-modules-<v>-generic, zstd-compressed modules in a data.tar.zst, as Ubuntu ships them.
# Checks the install layout, the newest version winning across suites, modprobe reading our
# indexes, the initramfs contents and that a second run downloads nothing.
source "$(dirname "$0")/lib.sh"

MIRROR="$SCRATCH/mirror"
make_archive_key "$SCRATCH/archive.gpg"

# noble: the old kernel in the release pocket, the new one in -security.
add_kernel() {  # suite version abi
  local suite=$1 version=$2 abi=$3 pool="$MIRROR/pool/$1"
  local release="$abi-generic" work="$SCRATCH/pkg-$abi"
  mkdir -p "$pool" "$work/image/boot"
  head -c 300000 /dev/urandom >"$work/image/boot/vmlinuz-$release"
  echo "CONFIG_VIRTIO=y" >"$work/image/boot/config-$release"
  make_deb "$work/image" "linux-image-$release" "$version" "linux-modules-$release, linux-base" \
    "$pool/linux-image-$release.deb" zstd
  make_module_tree "$work/modules" "$release" zst
  make_deb "$work/modules" "linux-modules-$release" "$version" "" "$pool/linux-modules-$release.deb" zstd
  mkdir -p "$work/meta"
  make_deb "$work/meta" linux-image-virtual "$version" "linux-image-$release" "$pool/linux-image-virtual.deb" zstd
}
add_kernel noble 6.8.0-31.31 6.8.0-31
add_kernel noble-security 6.8.0-45.45 6.8.0-45
mkdir -p "$MIRROR/pool/noble-updates"
for suite in noble noble-updates noble-security; do publish_suite "$MIRROR" "$suite"; done
serve_directory "$MIRROR"
URL=$SERVED_URL

OUT="$SCRATCH/out"
CACHE="$SCRATCH/cache"
build() {
  "$RUNCVM_BUILD" kernels --recipe ubuntu-noble --mirror "$URL" --keyring "$SCRATCH/archive.gpg" \
    --out "$OUT" --cache "$CACHE" "$@"
}
log=$(build 2>&1) || fail "runcvm-build failed: $log"
echo "$log"
assert_contains "$log" "ubuntu-noble: installed kernels/ubuntu/6.8.0-45-generic (linux-image-virtual 6.8.0-45.45"
assert_contains "$log" "downloaded 9 files"
K="$OUT/kernels/ubuntu/6.8.0-45-generic"
for f in vmlinuz initrd config kernel.json modules/modules.dep modules/modules.dep.bin modules/modules.alias.bin \
         modules/modules.builtin.bin modules/kernel/fs/fuse/virtiofs.ko.zst; do assert_file "$K/$f"; done
[[ "$(readlink "$OUT/kernels/ubuntu/latest")" == "6.8.0-45-generic" ]] || fail "latest does not point at 6.8.0-45-generic"
cmp -s "$K/vmlinuz" "$SCRATCH/pkg-6.8.0-45/image/boot/vmlinuz-6.8.0-45-generic" || fail "vmlinuz differs from the package's"
pass "installed the newest kernel of three suites"

# modprobe (kmod) must resolve dependencies from the indexes we wrote, builtins included.
mkdir -p "$SCRATCH/root/lib/modules"
ln -s "$K/modules" "$SCRATCH/root/lib/modules/6.8.0-45-generic"
deps=$(modprobe -d "$SCRATCH/root" -S 6.8.0-45-generic --show-depends virtiofs | sed "s/ *$//")
expected="insmod $SCRATCH/root/lib/modules/6.8.0-45-generic/kernel/fs/fuse/fuse.ko.zst
insmod $SCRATCH/root/lib/modules/6.8.0-45-generic/kernel/fs/fuse/virtiofs.ko.zst"
[[ "$deps" == "$expected" ]] || fail "modprobe --show-depends virtiofs: got: $deps"
deps=$(modprobe -d "$SCRATCH/root" -S 6.8.0-45-generic --show-depends ext4 | sed "s|.*/||; s/ *$//" | tr '\n' ' ')
[[ "$deps" == "crc16.ko.zst jbd2.ko.zst mbcache.ko.zst ext4.ko.zst " ]] || fail "modprobe --show-depends ext4: got: $deps"
builtin=$(modprobe -d "$SCRATCH/root" -S 6.8.0-45-generic --show-depends virtio_pci | sed "s/ *$//")
[[ "$builtin" == "builtin virtio_pci" ]] || fail "virtio_pci should be builtin, got: $builtin"
pass "modprobe reads our modules.dep.bin and modules.builtin.bin"

# The initramfs: uncompressed modules, dependencies first, builtins and unrelated modules left out.
mkdir "$SCRATCH/initrd"
(cd "$SCRATCH/initrd" && zstd -dc "$K/initrd" | cpio -id --quiet)
order=$(tr '\n' ' ' <"$SCRATCH/initrd/modules/load-order")
[[ "$order" == "virtio_blk.ko failover.ko net_failover.ko virtio_net.ko virtio_console.ko fuse.ko virtiofs.ko vsock.ko vmw_vsock_virtio_transport_common.ko vmw_vsock_virtio_transport.ko crc16.ko jbd2.ko mbcache.ko ext4.ko " ]] ||
  fail "initramfs load order: $order"
assert_absent "$SCRATCH/initrd/modules/sd_mod.ko"
[[ "$(head -c 4 "$SCRATCH/initrd/modules/fuse.ko")" == $'\x7fELF' ]] || fail "initramfs modules must be uncompressed"
[[ -c "$SCRATCH/initrd/dev/console" || -f "$SCRATCH/initrd/dev/console" ]] || fail "no dev/console"
cmp -s "$SCRATCH/initrd/init" "$BUILD_DIR/bin/runcvm-initramfs-init" || fail "init is not runcvm-initramfs-init"
pass "initramfs holds init and 14 modules in dependency order"

# Second run: everything from the cache (indexes within their max age), identical output.
sum_before=$(sha256sum "$K/initrd")
log=$(build 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "downloaded 0 files (0.0 MB), 9 from cache"
[[ "$(sha256sum "$K/initrd")" == "$sum_before" ]] || fail "initrd is not reproducible"
pass "second run downloads nothing; output is reproducible"

# With --index-max-age 0 the mirror is asked again: unchanged indexes answer 304 Not Modified; a
# changed InRelease is fetched, and what it lists that is already cached is not.
log=$(build --index-max-age 0 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "downloaded 0 files (0.0 MB), 9 from cache"
touch -d "@$(($(date +%s) + 5))" "$MIRROR/dists/noble-updates/InRelease"
log=$(build --index-max-age 0 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "downloaded 1 file (0.0 MB), 8 from cache"
pass "conditional GETs revalidate indexes"

# Progress: drawn on a terminal (a pseudo-terminal from script(1)), never into a pipe or under CI.
rm -rf "$CACHE" "$OUT"
on_terminal=$(env -u CI script -qec "$(printf '%q ' "$RUNCVM_BUILD" kernels --recipe ubuntu-noble --mirror "$URL" \
  --keyring "$SCRATCH/archive.gpg" --out "$OUT" --cache "$CACHE")" /dev/null)
assert_contains "$on_terminal" "downloading: 6/6 files" "terminal output"
rm -rf "$CACHE" "$OUT"
piped=$(env -u CI "$RUNCVM_BUILD" kernels --recipe ubuntu-noble --mirror "$URL" --keyring "$SCRATCH/archive.gpg" \
  --out "$OUT" --cache "$CACHE" 2>&1)
[[ "$piped" != *downloading:* ]] || fail "progress drawn into a pipe: $piped"
rm -rf "$CACHE" "$OUT"
under_ci=$(CI=true script -qec "$(printf '%q ' "$RUNCVM_BUILD" kernels --recipe ubuntu-noble --mirror "$URL" \
  --keyring "$SCRATCH/archive.gpg" --out "$OUT" --cache "$CACHE")" /dev/null)
[[ "$under_ci" != *downloading:* ]] || fail "progress drawn with CI set: $under_ci"
pass "progress shows on a terminal only, and not under CI"
