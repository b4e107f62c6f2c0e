#!/usr/bin/env bash
# The real thing: fetch the current Debian kernel of a recipe (default debian-bookworm) from
# deb.debian.org, package it, check our module indexes against depmod's, and boot it under QEMU
# (TCG) from a virtiofs share. The initramfs must load its modules, mount the share and exec a
# program from it that prints a marker.  usage: kernels_debian_boot.sh BUILD_DIR [RECIPE]
source "$(dirname "$0")/lib.sh"
RECIPE=${2:-debian-bookworm}

OUT="$SCRATCH/out"
CACHE="$SCRATCH/cache"
log=$("$RUNCVM_BUILD" kernels --recipe "$RECIPE" --out "$OUT" --cache "$CACHE" --timings 2>&1) ||
  fail "runcvm-build failed: $log"
echo "$log"
assert_contains "$log" "$RECIPE: installed kernels/debian/"
K="$OUT/kernels/debian/latest"
VERSION=$(readlink "$K")
[[ "$VERSION" == *-amd64 ]] || fail "latest points at \"$VERSION\""
for f in vmlinuz vmlinux initrd config kernel.json modules/modules.dep modules/modules.dep.bin modules/modules.alias.bin; do
  assert_file "$K/$f"
done
pass "packaged Debian kernel $VERSION"

# Our extraction (libarchive, threaded xz) must give exactly what dpkg-deb -x gives.
package=$(python3 -c 'import json,sys; print([p["checksum"] for p in json.load(open(sys.argv[1]))["packages"] if p["name"].startswith("linux-image-") and p["name"][12].isdigit()][0])' "$K/kernel.json")
mkdir "$SCRATCH/dpkg"
dpkg-deb -x "$CACHE/blobs/sha256/$package" "$SCRATCH/dpkg"
modules_dir="$SCRATCH/dpkg/lib/modules/$VERSION"
[[ -d "$modules_dir" ]] || modules_dir="$SCRATCH/dpkg/usr/lib/modules/$VERSION"  # merged /usr (trixie)
diff -r -x 'modules.*' "$modules_dir" "$K/modules" >/dev/null || fail "module tree differs from dpkg-deb -x"
cmp -s "$SCRATCH/dpkg/boot/vmlinuz-$VERSION" "$K/vmlinuz" || fail "vmlinuz differs from dpkg-deb -x"
# vmlinux must be the ELF inside vmlinuz, found here the other way, as Linux's extract-vmlinux
# does: by the compressor's magic, decompressed with the compressor's own tool.
python3 - "$K/vmlinuz" "$K/vmlinux" <<'PY' || fail "vmlinux is not the kernel inside vmlinuz"
import subprocess, sys
image = open(sys.argv[1], "rb").read()
wanted = open(sys.argv[2], "rb").read()
for magic, tool in ((b"\xfd7zXZ\x00", ["xz", "-dc"]), (b"\x28\xb5\x2f\xfd", ["zstd", "-dc"]), (b"\x1f\x8b\x08", ["gzip", "-dc"])):
    start = image.find(magic)
    while start >= 0:
        out = subprocess.run(tool, input=image[start:], capture_output=True).stdout
        if out[:4] == b"\x7fELF":
            assert out[:len(wanted)] == wanted and len(out) >= len(wanted), "different bytes"
            sys.exit(0)
        start = image.find(magic, start + 1)
sys.exit("no compressed ELF found in vmlinuz")
PY
pass "kernel and module tree are byte-identical to dpkg-deb -x; vmlinux is the ELF inside vmlinuz"

# depmod on a copy of the same tree must agree with our dependency computation.
mkdir -p "$SCRATCH/depmod/lib/modules"
cp -al "$K/modules/" "$SCRATCH/depmod/lib/modules/$VERSION"
rm "$SCRATCH/depmod/lib/modules/$VERSION"/modules.dep*
depmod -b "$SCRATCH/depmod" "$VERSION"
python3 "$SOURCE_DIR/tests/integration/compare_modules_dep.py" "$K/modules/modules.dep" \
  "$SCRATCH/depmod/lib/modules/$VERSION/modules.dep"
mkdir -p "$SCRATCH/ours/lib/modules"
ln -s "$(cd "$K/modules" && pwd)" "$SCRATCH/ours/lib/modules/$VERSION"
found=0
for module in virtiofs ext4 vmw_vsock_virtio_transport virtio_net crypto-crc32c fs-ext4 fs-virtiofs char-major-10-229 \
    virtio:d00000001v00001AF4 pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00; do
  # Same answer, failures included (a kernel may build a module in without recording its aliases).
  ours=$(modprobe -d "$SCRATCH/ours" -S "$VERSION" --show-depends "$module" 2>&1 | sed "s|$SCRATCH/ours||; s/ *$//" || true)
  theirs=$(modprobe -d "$SCRATCH/depmod" -S "$VERSION" --show-depends "$module" 2>&1 | sed "s|$SCRATCH/depmod||; s/ *$//" || true)
  [[ "$(sort <<<"$ours")" == "$(sort <<<"$theirs")" ]] || fail "modprobe $module: ours: $ours; depmod: $theirs"
  if [[ "$ours" == *"insmod /lib/modules/$VERSION/"* ]]; then found=$((found + 1)); fi
done
# Agreeing on failures alone would prove nothing: most lookups must find a module file.
(( found >= 5 )) || fail "modprobe found a module file for only $found of the names: the indexes are not read"
cmp "$K/modules/modules.devname" "$SCRATCH/depmod/lib/modules/$VERSION/modules.devname" || fail "modules.devname differs from depmod's"
pass "modules.dep, modules.devname and the .bin indexes agree with depmod (modprobe by name and by alias; $found lookups found module files)"

# Boot: the share holds only a static probe; it reports and powers the VM off.
SHARE="$SCRATCH/share"
mkdir -p "$SHARE"
cp "$BUILD_DIR/tests/runcvm-boot-probe" "$SHARE/probe"
start=$(date +%s%N)
boot_with_virtiofs "$K" "$SHARE" /probe "$SCRATCH/console.log" runcvm.debug ||
  fail "QEMU failed: $(tail -20 "$SCRATCH/console.log")"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
console=$(cat "$SCRATCH/console.log")
assert_contains "$console" "RUNCVM-PROBE-MARKER" "console"
assert_contains "$console" "runcvm-probe: pid=1 argv0=/probe" "console"
assert_contains "$console" "runcvm-probe: release=$VERSION" "console"
assert_contains "$console" "runcvm-probe: root=virtiofs" "console"
# Every module the initramfs carries must be loaded (some kernels build part of them in).
for module in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["initramfs_modules"]))' "$K/kernel.json"); do
  grep -q "runcvm-probe: modules=.*\b$module\b" <<<"$console" || fail "module $module not loaded: $console"
done
grep -q "runcvm-initramfs: loaded" <<<"$console" || fail "the initramfs loaded no modules: $console"
assert_contains "$console" "runcvm-initramfs: mounted virtiofs runcvm-root" "console"
pass "booted under TCG in $elapsed ms: initramfs loaded its modules, mounted virtiofs, ran /probe as PID 1"

# The same kernel through its decompressor (what a kernel without PVH boots).
start=$(date +%s%N)
BOOT_IMAGE=vmlinuz boot_with_virtiofs "$K" "$SHARE" /probe "$SCRATCH/console-bz.log" ||
  fail "QEMU failed booting vmlinuz: $(tail -20 "$SCRATCH/console-bz.log")"
elapsed_bz=$(( ($(date +%s%N) - start) / 1000000 ))
assert_contains "$(cat "$SCRATCH/console-bz.log")" "RUNCVM-PROBE-MARKER" "console (vmlinuz)"
pass "vmlinuz boots too: $elapsed_bz ms through the decompressor, $elapsed ms directly (vmlinux, PVH)"

# A wrong tag fails with the initramfs's one error line and powers off instead of hanging.
BOOT_TIMEOUT=120 boot_with_virtiofs "$K" "$SHARE" /probe "$SCRATCH/bad.log" \
  "runcvm.root=no-such-tag" || true
grep -q 'runcvm-initramfs: error: mounting virtiofs tag "no-such-tag"' "$SCRATCH/bad.log" ||
  fail "no clear error for a wrong tag: $(tail -5 "$SCRATCH/bad.log")"
pass "a wrong virtiofs tag gives one clear line and powers off"

log=$("$RUNCVM_BUILD" kernels --recipe "$RECIPE" --out "$OUT" --cache "$CACHE" 2>&1) || fail "second run: $log"
assert_contains "$log" "downloaded 0 files (0.0 MB)"
pass "second run downloads nothing"
