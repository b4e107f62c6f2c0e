#!/usr/bin/env bash
# `runcvm-build disk`: ext4 images written with libext2fs (no root tools, loop devices or mounts)
# from a tricky tree (deep paths, 255-byte and UTF-8 names, 10k small files, a 1 GiB sparse file,
# hard links, symlink loops, xattrs, devices, a fifo, a socket, owners above 65535), from a
# directory, a tar and a zstd tar on stdin: e2fsck -fn finds nothing, and debugfs reads the tree
# back identical (content, owners, modes, times, link targets, devices); bad input fails in one
# line and leaves nothing behind; the inode table is sized for what goes in.
source "$(dirname "$0")/lib.sh"

BUILD="$BUILD_DIR/bin/runcvm-build"
TREES="$SOURCE_DIR/tests/integration/disk_trees.py"
python3 "$TREES" make "$SCRATCH/src"

check_image() {  # image what
  local image=$1 what=$2 dump="$SCRATCH/dump-$RANDOM"
  e2fsck -fn "$image" >"$SCRATCH/fsck.log" 2>&1 || fail "$what: e2fsck -fn found problems: $(grep -v '^Pass' "$SCRATCH/fsck.log" | head -5)"
  mkdir "$dump"
  debugfs -R "rdump / $dump" "$image" >/dev/null 2>&1
  python3 "$TREES" compare "$SCRATCH/src" "$dump" "$image" >"$SCRATCH/compare.log" 2>&1 ||
    fail "$what: the tree read back differs: $(head -5 "$SCRATCH/compare.log")"
  # Hard links share one inode; xattrs (security.capability too) are on the inode.
  inode() { debugfs -R "stat \"$1\"" "$image" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p'; }
  [[ "$(inode links/original)" == "$(inode links/second)" && "$(inode links/original)" == "$(inode many/third)" ]] ||
    fail "$what: hard links are separate inodes"
  debugfs -R "stat links/original" "$image" 2>/dev/null | grep -q "Links: 3" || fail "$what: the hard-linked file's link count is not 3"
  local attrs
  attrs=$(debugfs -R "ea_list owned/file" "$image" 2>/dev/null)
  assert_contains "$attrs" "security.capability (20) = 01 00 00 02 00 20" "$what: security.capability"
  assert_contains "$attrs" 'user.note (16) = "a user attribute"' "$what: user xattr"
  assert_contains "$(debugfs -R "ea_list owned" "$image" 2>/dev/null)" 'user.on-a-directory (3) = "yes"' "$what: directory xattr"
  # The 10,000-entry directory is hash-indexed: debugfs walks its htree (root, leaves in hash order).
  local htree
  htree=$(debugfs -R "htree many" "$image" 2>&1)
  assert_contains "$htree" "Root node dump:" "$what: the htree of many/"
  assert_contains "$htree" "Number of entries (count):" "$what: the htree of many/"
  [[ "$htree" != *"Not a hash-indexed directory"* ]] || fail "$what: many/ is not hash-indexed"
  rm -rf "$dump"
  echo "$(cat "$SCRATCH/compare.log")"
}

"$BUILD" disk --size 2G --from "$SCRATCH/src" --label tricky "$SCRATCH/dir.img" 2>"$SCRATCH/build.log" ||
  fail "runcvm-build disk --from DIR: $(cat "$SCRATCH/build.log")"
assert_contains "$(cat "$SCRATCH/build.log")" "skipped socket $SCRATCH/src/special/socket" "the socket's note"
result=$(check_image "$SCRATCH/dir.img" "from a directory")
allocated=$(( $(stat -c %b "$SCRATCH/dir.img") * 512 / 1048576 ))
(( allocated < 200 )) || fail "the 2 GiB image holding a 1 GiB sparse file takes $allocated MiB: holes were filled"
features=$(dumpe2fs -h "$SCRATCH/dir.img" 2>/dev/null)
for feature in has_journal ext_attr dir_index filetype extent 64bit flex_bg sparse_super large_file huge_file dir_nlink extra_isize metadata_csum; do
  grep -q "^Filesystem features:.* $feature" <<<"$features" || fail "feature $feature is missing: $(grep '^Filesystem features' <<<"$features")"
done
assert_contains "$features" "Filesystem volume name:   tricky" "the label"
pass "from a directory: e2fsck clean, $result, $allocated MiB allocated for 2 GiB, ext4 features and label as asked"

tar -C "$SCRATCH/src" --sparse --xattrs --xattrs-include='*' --numeric-owner -cf "$SCRATCH/tree.tar" . 2>/dev/null
"$BUILD" disk --size 2G --from "$SCRATCH/tree.tar" "$SCRATCH/tar.img" 2>"$SCRATCH/build.log" || fail "--from TAR: $(cat "$SCRATCH/build.log")"
pass "from a tar: e2fsck clean, $(check_image "$SCRATCH/tar.img" "from a tar")"
zstd -q -c "$SCRATCH/tree.tar" | "$BUILD" disk --size 2G --from - "$SCRATCH/zst.img" 2>"$SCRATCH/build.log" ||
  fail "--from - (zstd tar on stdin): $(cat "$SCRATCH/build.log")"
pass "from a zstd tar on stdin: e2fsck clean, $(check_image "$SCRATCH/zst.img" "from a zstd tar on stdin")"

"$BUILD" disk --size 64M "$SCRATCH/empty.img" 2>/dev/null || fail "an empty image"
e2fsck -fn "$SCRATCH/empty.img" >/dev/null 2>&1 || fail "the empty image does not pass e2fsck"
[[ $(stat -c %s "$SCRATCH/empty.img") -eq $((64 << 20)) ]] || fail "the empty image is not 64 MiB"
pass "an empty 64 MiB image passes e2fsck"

# Bad input: one line naming the value, a non-zero exit, nothing left behind.
mkdir "$SCRATCH/out"
expect_one_line_error "--size \"12x\": expected a size of at least 8M" "$BUILD" disk --size 12x "$SCRATCH/out/a.img"
expect_one_line_error "--size \"4M\": expected a size of at least 8M" "$BUILD" disk --size 4M "$SCRATCH/out/a.img"
expect_one_line_error "/nonexistent" "$BUILD" disk --size 64M --from /nonexistent "$SCRATCH/out/a.img"
expect_one_line_error "at most 16 bytes" "$BUILD" disk --size 64M --label 12345678901234567 "$SCRATCH/out/a.img"
head -c 100000 /dev/urandom >"$SCRATCH/not-a-tar"
expect_one_line_error "not-a-tar" "$BUILD" disk --size 64M --from "$SCRATCH/not-a-tar" "$SCRATCH/out/a.img"
[[ -z "$(ls -A "$SCRATCH/out")" ]] || fail "failed runs left files behind: $(ls "$SCRATCH/out")"
pass "bad sizes, sources and labels fail in one line and leave nothing behind"

# A hostile tar: "..", "." and empty components would become directory entries of those names.
python3 - "$SCRATCH" <<'PY'
import io, sys, tarfile
for name, member in (("dotdot", "a/../b"), ("dot", "a/./b"), ("empty", "a//b"), ("link", None)):
    with tarfile.open(f"{sys.argv[1]}/{name}.tar", "w") as tar:
        d = tarfile.TarInfo("a"); d.type = tarfile.DIRTYPE; tar.addfile(d)
        if member:
            f = tarfile.TarInfo(member); f.size = 1; tar.addfile(f, io.BytesIO(b"x"))
        else:  # a hard link whose target climbs out
            f = tarfile.TarInfo("a/f"); f.size = 1; tar.addfile(f, io.BytesIO(b"x"))
            l = tarfile.TarInfo("a/g"); l.type = tarfile.LNKTYPE; l.linkname = "../a/f"; tar.addfile(l)
PY
expect_one_line_error 'entry "a/../b": the path has a ".." component' "$BUILD" disk --size 64M --from "$SCRATCH/dotdot.tar" "$SCRATCH/out/t.img"
expect_one_line_error 'entry "a/./b": the path has a "." component' "$BUILD" disk --size 64M --from "$SCRATCH/dot.tar" "$SCRATCH/out/t.img"
expect_one_line_error 'entry "a//b": the path has a "" component' "$BUILD" disk --size 64M --from "$SCRATCH/empty.tar" "$SCRATCH/out/t.img"
expect_one_line_error '(its link target): the path has a ".." component' "$BUILD" disk --size 64M --from "$SCRATCH/link.tar" "$SCRATCH/out/t.img"
# One name more than ext4's 65000 links per inode: refused, not wrapped to a count of zero.
python3 - "$SCRATCH/links.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as tar:
    f = tarfile.TarInfo("f"); f.size = 1; tar.addfile(f, io.BytesIO(b"x"))
    for i in range(65000):
        l = tarfile.TarInfo(f"d{i // 5000}/l{i}") ; l.type = tarfile.LNKTYPE; l.linkname = "f"
        if i % 5000 == 0:
            d = tarfile.TarInfo(f"d{i // 5000}"); d.type = tarfile.DIRTYPE; tar.addfile(d)
        tar.addfile(l)
PY
expect_one_line_error '"f" already has 65000 names, ext4'"'"'s limit' "$BUILD" disk --size 256M --from "$SCRATCH/links.tar" "$SCRATCH/out/t.img"
[[ -z "$(ls -A "$SCRATCH/out")" ]] || fail "refused tars left files behind: $(ls "$SCRATCH/out")"
pass "tar entries with \"..\", \".\" or empty components, and a 65001st hard link, are refused in one line, nothing left behind"

# Too little room: a 10 MiB file into a 9 MiB image.
mkdir "$SCRATCH/big" && head -c 10485760 /dev/urandom >"$SCRATCH/big/blob"
expect_one_line_error "allocating blocks" "$BUILD" disk --size 9M --from "$SCRATCH/big" "$SCRATCH/out/b.img"
[[ -z "$(ls -A "$SCRATCH/out")" ]] || fail "a full image left files behind: $(ls "$SCRATCH/out")"
pass "a tree larger than the image fails in one line and leaves nothing behind"

# Inodes for what is going in: 20,000 empty files fit 256M as they do with mke2fs -d (its "small"
# ratio, an inode per 4 KiB), and 5,000 fit 16M, more than any ratio gives, because the directory
# is counted first; the summary line says how many inodes the image has.
mkdir -p "$SCRATCH/many/a" "$SCRATCH/few/a"
(cd "$SCRATCH/many/a" && seq 1 20000 | xargs touch)
(cd "$SCRATCH/few/a" && seq 1 5000 | xargs touch)
"$BUILD" disk --size 256M --from "$SCRATCH/many" "$SCRATCH/many.img" 2>"$SCRATCH/build.log" ||
  fail "20,000 files into 256M: $(cat "$SCRATCH/build.log")"
e2fsck -fn "$SCRATCH/many.img" >/dev/null 2>&1 || fail "20,000 files into 256M: e2fsck -fn found problems"
mke2fs -q -F -t ext4 -d "$SCRATCH/many" "$SCRATCH/many-mke2fs.img" 256M
ours=$(dumpe2fs -h "$SCRATCH/many.img" 2>/dev/null | awk '/^Inode count:/ {print $3}')
theirs=$(dumpe2fs -h "$SCRATCH/many-mke2fs.img" 2>/dev/null | awk '/^Inode count:/ {print $3}')
(( ours >= theirs )) || fail "256M: $ours inodes, fewer than mke2fs's $theirs"
assert_contains "$(cat "$SCRATCH/build.log")" "; $ours inodes;" "the summary line"
"$BUILD" disk --size 16M --from "$SCRATCH/few" "$SCRATCH/few.img" 2>"$SCRATCH/build.log" ||
  fail "5,000 files into 16M: $(cat "$SCRATCH/build.log")"
e2fsck -fn "$SCRATCH/few.img" >/dev/null 2>&1 || fail "5,000 files into 16M: e2fsck -fn found problems"
few=$(dumpe2fs -h "$SCRATCH/few.img" 2>/dev/null | awk '/^Inode count:/ {print $3}')
(( few > 4096 )) || fail "16M with 5,000 files: $few inodes"
pass "inodes sized for what goes in: 20,000 files in 256M ($ours inodes, mke2fs $theirs), 5,000 in 16M ($few)"
