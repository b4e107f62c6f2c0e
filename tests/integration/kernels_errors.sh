#!/usr/bin/env bash
# Bad input to runcvm-build kernels: each case must print one clear line, exit non-zero and leave
# neither the output directory nor a staging directory behind.
source "$(dirname "$0")/lib.sh"

MIRROR="$SCRATCH/mirror"
make_archive_key "$SCRATCH/archive.gpg"
work="$SCRATCH/pkg"
mkdir -p "$work/image/boot" "$MIRROR/pool/stable"
# Big enough that it cannot fit on the small filesystem of the disk-full case.
head -c 6000000 /dev/urandom >"$work/image/boot/vmlinuz-6.1.0-9-amd64"
make_module_tree "$work/image" 6.1.0-9-amd64 xz
make_deb "$work/image" linux-image-6.1.0-9-amd64 6.1.27-1 "" "$MIRROR/pool/stable/linux-image-6.1.0-9-amd64.deb"
mkdir -p "$work/meta"
make_deb "$work/meta" linux-image-amd64 6.1.27-1 "linux-image-6.1.0-9-amd64 (= 6.1.27-1)" "$MIRROR/pool/stable/linux-image-amd64.deb"
publish_suite "$MIRROR" stable
serve_directory "$MIRROR"
URL=$SERVED_URL

recipe() {  # name, then jq-free edits as "key": value JSON fragments appended
  local name=$1 extra=${2:-}
  cat >"$SCRATCH/$name.json" <<JSON
{
  "dist": "test", "format": "deb", "architecture": "amd64",
  "sources": [{"mirror": "$URL", "suite": "stable", "components": ["main"]}],
  "keyring": "$SCRATCH/archive.gpg",
  "package": "linux-image-amd64", "follow": ["linux-image-*"], "kernel_image": "boot/vmlinuz-*",
  "initramfs_modules": ["virtiofs", "ext4"]$extra
}
JSON
  echo "$SCRATCH/$name.json"
}

OUT="$SCRATCH/out/runcvm"
mkdir -p "$SCRATCH/out"
no_leftovers() {
  assert_absent "$OUT"
  if ls -A "$SCRATCH/out" | grep -q .; then fail "left behind in $SCRATCH/out: $(ls -A "$SCRATCH/out")"; fi
}
kernels() { "$RUNCVM_BUILD" kernels --out "$OUT" --cache "$SCRATCH/cache" --retries 2 "$@"; }

# The good case first, so every failure below is caused by the one thing it changes.
log=$(kernels --recipe "$(recipe good)" 2>&1) || fail "good recipe failed: $log"
assert_file "$OUT/kernels/test/6.1.0-9-amd64/initrd"
rm -rf "$OUT"
pass "the unmodified mirror and recipe work"

expect_one_line_error 'field `initramfs_compresion`: unknown field' \
  kernels --recipe "$(recipe typo ', "initramfs_compresion": "gzip"')"
no_leftovers
pass "unknown recipe field: $LAST_ERROR"

sed 's/"linux-image-amd64"/"linux-image-arm64"/' "$(recipe good)" >"$SCRATCH/missing.json"
expect_one_line_error 'package "linux-image-arm64" not found in' kernels --recipe "$SCRATCH/missing.json"
no_leftovers
pass "missing package: $LAST_ERROR"

sed 's/"virtiofs"/"virtiofs", "no_such_module"/' "$(recipe good)" >"$SCRATCH/module.json"
expect_one_line_error 'module "no_such_module" is neither in the module tree nor built into the kernel' \
  kernels --recipe "$SCRATCH/module.json"
no_leftovers
pass "missing initramfs module: $LAST_ERROR"

expect_one_line_error '"nonexistent" is neither a recipe file nor a recipe in' kernels --recipe nonexistent
no_leftovers
expect_one_line_error '--retries: "0" is not a whole number from 1 to 64' kernels --recipe "$(recipe good)" --retries 0
pass "bad command line: $LAST_ERROR"

# Bad signature: a keyring without the archive key, and an InRelease edited after signing.
make_archive_key "$SCRATCH/other.gpg" "$SCRATCH/other-gnupg"
export GNUPGHOME="$SCRATCH/gnupg"
expect_one_line_error "OpenPGP signature check failed" kernels --recipe "$(recipe good)" --keyring "$SCRATCH/other.gpg"
no_leftovers
pass "index signed by another key: $LAST_ERROR"
cp "$MIRROR/dists/stable/InRelease" "$SCRATCH/InRelease.good"
sed -i 's/^Suite: stable/Suite: stab1e/' "$MIRROR/dists/stable/InRelease"
# A newer mtime, so the conditional GET cannot answer 304 within the same second.
touch -d "@$(($(date +%s) + 5))" "$MIRROR/dists/stable/InRelease"
expect_one_line_error "BAD signature" kernels --recipe "$(recipe good)" --index-max-age 0
no_leftovers
cp "$SCRATCH/InRelease.good" "$MIRROR/dists/stable/InRelease"
pass "tampered InRelease: $LAST_ERROR"

# Rollback: an older index, validly signed, after the cache accepted a newer one. A fresh cache
# (no memory of the newer one) takes it; this one refuses it.
touch -d "@$(($(date +%s) + 7))" "$MIRROR/dists/stable/InRelease"  # newer than the tampered copy's
log=$(kernels --recipe "$(recipe good)" --index-max-age 0 2>&1) || fail "good recipe failed again: $log"
rm -rf "$OUT"
sed 's/^Date: .*/Date: Sat, 01 Jan 2022 00:00:00 UTC/' "$MIRROR/dists/stable/Release" >"$SCRATCH/Release.old"
gpg --batch --quiet --yes --local-user archive@example.test --clearsign --output "$MIRROR/dists/stable/InRelease" "$SCRATCH/Release.old"
touch -d "@$(($(date +%s) + 10))" "$MIRROR/dists/stable/InRelease"
expect_one_line_error "InRelease is dated Sat, 01 Jan 2022 00:00:00 UTC, older than the" \
  kernels --recipe "$(recipe good)" --index-max-age 0
no_leftovers
"$RUNCVM_BUILD" kernels --out "$OUT" --cache "$SCRATCH/fresh-cache" --recipe "$(recipe good)" >/dev/null 2>&1 ||
  fail "a fresh cache refused the older index"
rm -rf "$OUT" "$SCRATCH/fresh-cache"
cp "$SCRATCH/InRelease.good" "$MIRROR/dists/stable/InRelease"
touch -d "@$(($(date +%s) + 15))" "$MIRROR/dists/stable/InRelease"
pass "an InRelease older than one accepted before: $LAST_ERROR"

# Wrong hash: the package changed on the mirror after the index was signed (same size).
rm -rf "$SCRATCH/cache"
deb="$MIRROR/pool/stable/linux-image-6.1.0-9-amd64.deb"
cp "$deb" "$SCRATCH/good.deb"
corrupt_byte "$deb" 5000
expect_one_line_error "sha256 mismatch: the index says" kernels --recipe "$(recipe good)"
no_leftovers
ls "$SCRATCH/cache/blobs/sha256" | grep -q "$(sha256sum "$deb" | cut -c1-64)" && fail "the bad package was cached"
cp "$SCRATCH/good.deb" "$deb"
pass "package that does not match its index: $LAST_ERROR"

# A package larger than its index says (a mirror serving endless data): cut off at the index's size.
rm -rf "$SCRATCH/cache"
head -c 20000000 /dev/zero >>"$deb"
expect_one_line_error "bytes the index states" kernels --recipe "$(recipe good)"
no_leftovers
ls "$SCRATCH/cache/blobs/sha256" 2>/dev/null | grep -q "$(sha256sum "$deb" | cut -c1-64)" && fail "the oversized package was cached"
cp "$SCRATCH/good.deb" "$deb"
pass "package larger than its index states: $LAST_ERROR"

# Unreachable mirror: nothing listens on the port; retried with back-off, then one line.
port=$(free_port)
rm -rf "$SCRATCH/cache"
start=$(date +%s%N)
expect_one_line_error "after 2 attempts" kernels --recipe "$(recipe good)" --mirror "http://127.0.0.1:$port"
assert_contains "$LAST_ERROR" "127.0.0.1:$port"
no_leftovers
pass "unreachable mirror: $LAST_ERROR ($(( ($(date +%s%N) - start) / 1000000 )) ms)"

# Disk full: the output (and so its staging directory) on a 4 MiB filesystem.
SMALL="$SCRATCH/small"
mkdir -p "$SMALL"
mount -t tmpfs -o size=4m tmpfs "$SMALL"
on_exit "umount $SMALL"
expect_one_line_error "No space left on device" "$RUNCVM_BUILD" kernels --recipe "$(recipe good)" \
  --out "$SMALL/runcvm" --cache "$SCRATCH/cache"
if ls -A "$SMALL" | grep -q .; then fail "left behind on the full disk: $(ls -A "$SMALL")"; fi
pass "disk full: $LAST_ERROR"
