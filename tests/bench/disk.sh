#!/usr/bin/env bash
# Benchmark: `runcvm-build disk --from DIR` against `mke2fs -t ext4 -d DIR` (the baseline) on the
# same trees, same image size, in the same run: (a) 500 MB of mixed files, (b) 20,000 files in one
# directory, (c) a real Debian root filesystem of about 70,000 files (this machine's /usr, which
# dpkg installed with its docs). Prints seconds, the ratio, and the space each image takes.
# usage: tests/bench/disk.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)/bin/runcvm-build
WORK=$(mktemp -d /tmp/runcvm-bench-disk.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK" <<'PY'
import os, sys
work = sys.argv[1]
mixed = os.path.join(work, "mixed")
# 500 MB: a few large files, many medium and small ones, spread over 50 directories.
sizes = [64 << 20] * 4 + [1 << 20] * 200 + [16 << 10] * 2000 + [1 << 10] * 5000
chunk = os.urandom(1 << 20)
for i, size in enumerate(sizes):
    d = os.path.join(mixed, f"dir{i % 50:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:05d}"), "wb") as f:
        left = size
        while left:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
flat = os.path.join(work, "flat", "one-directory")
os.makedirs(flat)
for i in range(20000):
    with open(os.path.join(flat, f"entry-{i:05d}"), "w") as f:
        f.write("x" * (i % 100))
PY
# (c): up to ~70,000 entries of /usr, copied so both tools read the same tree from the same disk.
mkdir -p "$WORK/rootfs/usr"
{ (cd / && find usr -xdev \( -type f -o -type d -o -type l \) 2>/dev/null) || true; } | head -70000 >"$WORK/rootfs.list"
(cd / && tar --no-recursion -cf - -T "$WORK/rootfs.list" 2>/dev/null) | tar -C "$WORK/rootfs" -xf -

sync
measure() {  # label tree size
  local label=$1 tree=$2 size=$3 entries ours theirs
  entries=$(find "$tree" | wc -l)
  local start end
  start=$(date +%s%N)
  "$BUILD" disk --size "$size" --from "$tree" "$WORK/ours.img" 2>/dev/null
  end=$(date +%s%N); ours=$(( (end - start) / 1000000 ))
  start=$(date +%s%N)
  mke2fs -q -F -t ext4 -d "$tree" "$WORK/theirs.img" "$size" >/dev/null 2>&1
  end=$(date +%s%N); theirs=$(( (end - start) / 1000000 ))
  e2fsck -fn "$WORK/ours.img" >/dev/null 2>&1 || { echo "$label: our image fails e2fsck" >&2; exit 1; }
  local ours_mb theirs_mb
  ours_mb=$(( $(stat -c %b "$WORK/ours.img") * 512 / 1048576 ))
  theirs_mb=$(( $(stat -c %b "$WORK/theirs.img") * 512 / 1048576 ))
  awk -v label="$label ($size)" -v n="$entries" -v a="$ours" -v b="$theirs" -v am="$ours_mb" -v bm="$theirs_mb" 'BEGIN {
    printf "%-44s %7d entries  runcvm %7.2f s  mke2fs -d %7.2f s  ratio %5.2f  allocated %5d MiB vs %5d MiB\n",
      label, n, a / 1000, b / 1000, a / b, am, bm }'
  rm -f "$WORK/ours.img" "$WORK/theirs.img"
}
echo "runcvm-build disk --from DIR vs mke2fs -t ext4 -d DIR (baseline), same tree and size"
measure "(a) 500 MB of mixed files" "$WORK/mixed" 1G
measure "(b) 20,000 files in one directory" "$WORK/flat" 1G
measure "(c) Debian rootfs (/usr, ~70k entries)" "$WORK/rootfs" 4G
