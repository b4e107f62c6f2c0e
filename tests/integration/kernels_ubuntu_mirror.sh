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
[[ "$order" == "virtio_blk.ko failover.ko net_failover.ko virtio_net.ko virtio_console.ko fuse.ko virtiofs.ko vsock.ko vmw_vsock_virtio_transport_common.ko vmw_vsock_virtio_transport.ko crc16.ko jbd2.ko mbcache.ko ext4.ko virtio_balloon.ko " ]] ||
  fail "initramfs load order: $order"
assert_absent "$SCRATCH/initrd/modules/sd_mod.ko"
[[ "$(head -c 4 "$SCRATCH/initrd/modules/fuse.ko")" == $'\x7fELF' ]] || fail "initramfs modules must be uncompressed"
[[ -c "$SCRATCH/initrd/dev/console" || -f "$SCRATCH/initrd/dev/console" ]] || fail "no dev/console"
cmp -s "$SCRATCH/initrd/init" "$BUILD_DIR/bin/runcvm-initramfs-init" || fail "init is not runcvm-initramfs-init"
pass "initramfs holds init and 15 modules in dependency order"

# Second run, nothing changed: only the signed indexes are read (within their max age), and the
# installed artifact is left as it is.
inode_before=$(stat -c %i "$K/initrd")
log=$(build --timings 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "ubuntu-noble: kernels/ubuntu/6.8.0-45-generic is up to date (its build inputs did not change)"
assert_contains "$log" "downloaded 0 files (0.0 MB), 3 from cache"
[[ "$(stat -c %i "$K/initrd")" == "$inode_before" ]] || fail "an up-to-date artifact was written again"
pass "second run reads only the signed indexes and leaves the artifact: $(grep -o 'signed indexes, look for the artifact: [0-9]* ms' <<<"$log")"

# Another --out with the same cache: the artifact comes from the artifact cache, linked.
log=$("$RUNCVM_BUILD" kernels --recipe ubuntu-noble --mirror "$URL" --keyring "$SCRATCH/archive.gpg"   --out "$SCRATCH/out2" --cache "$CACHE" 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "installed kernels/ubuntu/6.8.0-45-generic from the artifact cache"
diff -r "$OUT/kernels" "$SCRATCH/out2/kernels" || fail "the artifact from the cache differs from the one built"
[[ "$(readlink "$SCRATCH/out2/kernels/ubuntu/latest")" == "6.8.0-45-generic" ]] || fail "latest not set from the artifact cache"
pass "another --out takes the artifact from the artifact cache"

# A fresh cache builds it again, byte for byte.
log=$("$RUNCVM_BUILD" kernels --recipe ubuntu-noble --mirror "$URL" --keyring "$SCRATCH/archive.gpg"   --out "$SCRATCH/out3" --cache "$SCRATCH/cache3" 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "installed kernels/ubuntu/6.8.0-45-generic (linux-image-virtual"
diff -r "$OUT/kernels" "$SCRATCH/out3/kernels" || fail "a rebuild is not reproducible"
pass "a rebuild from a fresh cache is identical"

# Another initramfs init is another input: built again.
cp "$BUILD_DIR/bin/runcvm-initramfs-init" "$SCRATCH/other-init" && echo >>"$SCRATCH/other-init"
log=$(build --initramfs-init "$SCRATCH/other-init" 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "installed kernels/ubuntu/6.8.0-45-generic (linux-image-virtual"
log=$(build 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "installed kernels/ubuntu/6.8.0-45-generic from the artifact cache"
pass "a changed initramfs init rebuilds; going back takes the kept artifact"

# Damage from outside is no match: a manifest naming other inputs in --out, an entry of the
# artifact cache without its manifest.
sed -i 's/"inputs": "[0-9a-f]*"/"inputs": "0000"/' "$K/kernel.json"
rm -f "$CACHE"/artifacts/*/kernel.json
log=$(build 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "installed kernels/ubuntu/6.8.0-45-generic (linux-image-virtual"
log=$("$RUNCVM_BUILD" kernels --recipe ubuntu-noble --mirror "$URL" --keyring "$SCRATCH/archive.gpg"   --out "$SCRATCH/out4" --cache "$CACHE" 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "from the artifact cache"
diff -r "$OUT/kernels" "$SCRATCH/out4/kernels" || fail "the re-kept artifact differs"
pass "a damaged manifest or cache entry is rebuilt, and the entry kept again whole"

# With --index-max-age 0 the mirror is asked again: unchanged indexes answer 304 Not Modified; a
# changed InRelease is fetched (its content, hence the build inputs, are the same here).
log=$(build --index-max-age 0 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "downloaded 0 files (0.0 MB), 3 from cache"
touch -d "@$(($(date +%s) + 5))" "$MIRROR/dists/noble-updates/InRelease"
log=$(build --index-max-age 0 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "downloaded 1 file (0.0 MB), 2 from cache"
assert_contains "$log" "is up to date"
pass "conditional GETs revalidate indexes"

# A new kernel in a suite changes its signed index: the new one is built and becomes latest.
add_kernel noble-updates 6.8.0-50.50 6.8.0-50
publish_suite "$MIRROR" noble-updates
touch -d "@$(($(date +%s) + 10))" "$MIRROR/dists/noble-updates/InRelease"  # newer than the touch above
log=$(build --index-max-age 0 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "installed kernels/ubuntu/6.8.0-50-generic (linux-image-virtual 6.8.0-50.50"
[[ "$(readlink "$OUT/kernels/ubuntu/latest")" == "6.8.0-50-generic" ]] || fail "latest does not point at 6.8.0-50-generic"
pass "a changed index builds the new kernel"

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
