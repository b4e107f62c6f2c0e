#!/usr/bin/env bash
# runcvm-build kernels against a local Alpine-style mirror (dl-cdn.alpinelinux.org is not
# reachable here): RSA-signed APKINDEX.tar.gz, linux-virt .apk with gzip-compressed modules.
# Also checks that a tampered package and an index signed by an unknown key are refused.
source "$(dirname "$0")/lib.sh"

MIRROR="$SCRATCH/mirror"
REPO="$MIRROR/v3.20/main/x86_64"
KEYS="$SCRATCH/keys"
mkdir -p "$KEYS" "$REPO"
openssl genrsa -out "$SCRATCH/builder.rsa" 2048 2>/dev/null
openssl rsa -in "$SCRATCH/builder.rsa" -pubout -out "$KEYS/builder-6650a6b2.rsa.pub" 2>/dev/null

TREE="$SCRATCH/linux-virt"
VERSION=6.6.31-0-virt
mkdir -p "$TREE/boot"
head -c 200000 /dev/urandom >"$TREE/boot/vmlinuz-virt"
echo "CONFIG_VIRTIO=m" >"$TREE/boot/config-virt"
make_module_tree "$TREE" "$VERSION" gz
OLD="$SCRATCH/linux-virt-old"
mkdir -p "$OLD/boot"
cp "$TREE/boot/vmlinuz-virt" "$OLD/boot/"
make_module_tree "$OLD" 6.6.30-0-virt gz
# Two versions in the index: the newest must win.
python3 "$SOURCE_DIR/tests/integration/make_apk_repository.py" "$REPO" "$SCRATCH/builder.rsa" builder-6650a6b2.rsa.pub \
  linux-virt 6.6.31-r0 "$TREE" linux-virt 6.6.30-r0 "$OLD"
serve_directory "$MIRROR"
URL=$SERVED_URL

OUT="$SCRATCH/out"
build() {
  "$RUNCVM_BUILD" kernels --recipe alpine-3.20 --mirror "$URL" --keyring "$KEYS" --out "$OUT" \
    --cache "$SCRATCH/cache" "$@"
}
log=$(build 2>&1) || fail "runcvm-build failed: $log"
echo "$log"
assert_contains "$log" "alpine-3.20: installed kernels/alpine/$VERSION (linux-virt 6.6.31-r0"
K="$OUT/kernels/alpine/$VERSION"
for f in vmlinuz initrd config kernel.json modules/modules.dep.bin modules/kernel/fs/fuse/virtiofs.ko.gz; do
  assert_file "$K/$f"
done
[[ "$(readlink "$OUT/kernels/alpine/latest")" == "$VERSION" ]] || fail "latest does not point at $VERSION"
mkdir "$SCRATCH/initrd"
(cd "$SCRATCH/initrd" && gzip -dc "$K/initrd" | cpio -id --quiet)
grep -qx virtiofs.ko "$SCRATCH/initrd/modules/load-order" || fail "virtiofs.ko not in the gzip initramfs"
pass "installed linux-virt from a signed APKINDEX, gzip initramfs"

log=$(build 2>&1) || fail "runcvm-build failed: $log"
assert_contains "$log" "downloaded 0 files (0.0 MB), 1 from cache"
assert_contains "$log" "alpine-3.20: kernels/alpine/$VERSION is up to date"
pass "second run reads only the signed index"

# An index signed by a key we do not hold.
mkdir -p "$SCRATCH/other-keys"
openssl genrsa 2048 2>/dev/null | openssl rsa -pubout -out "$SCRATCH/other-keys/builder-6650a6b2.rsa.pub" 2>/dev/null
rm -rf "$OUT"
expect_one_line_error 'bad RSA signature by key "builder-6650a6b2.rsa.pub"' \
  "$RUNCVM_BUILD" kernels --recipe alpine-3.20 --mirror "$URL" --keyring "$SCRATCH/other-keys" --out "$OUT" \
  --cache "$SCRATCH/cache2"
assert_absent "$OUT"
pass "index signed by another key refused: $LAST_ERROR"

# A package whose data was swapped after the index was signed (same size, other bytes).
apk="$REPO/linux-virt-6.6.31-r0.apk"
python3 - "$apk" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[-100] ^= 0xFF
open(sys.argv[1], "wb").write(data)
PY
expect_one_line_error "linux-virt-6.6.31-r0.apk" \
  "$RUNCVM_BUILD" kernels --recipe alpine-3.20 --mirror "$URL" --keyring "$KEYS" --out "$OUT" --cache "$SCRATCH/cache3"
assert_absent "$OUT"
ls "$SCRATCH/cache3/blobs/apk" 2>/dev/null | grep -q . && fail "a refused package was kept in the cache"
pass "tampered package refused: $LAST_ERROR"
