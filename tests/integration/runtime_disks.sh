#!/usr/bin/env bash
# End to end under TCG with a real dockerd: RUNCVM_DISKS gives the VM an ext4 block device at the
# mount point, created on first use from the image's content there, reused untouched afterwards
# (on a volume, data survives `docker rm` and reaches a new container); bad entries fail in one line.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/disks-base debian
# The image has content at the disk's mount point, which prepopulates the disk.
base=$(docker create runcvm-test/disks-base true)
mkdir -p "$SCRATCH/data/sub" && echo "from the image" >"$SCRATCH/data/sub/hello" && chmod 0640 "$SCRATCH/data/sub/hello"
docker cp "$SCRATCH/data" "$base:/data"
docker commit "$base" runcvm-test/disks >/dev/null
docker rm "$base" >/dev/null

out=$(vm -e RUNCVM_DISKS=/disks/d1,/data,ext4,256M runcvm-test/disks \
  sh -c 'grep " /data " /proc/mounts; cat /data/sub/hello; stat -c "%a %u" /data/sub/hello; df -k /data | tail -1')
assert_contains "$out" " /data ext4 " "the mounts in the VM"
[[ "$(grep " /data " <<<"$out" | cut -d' ' -f1)" == /dev/vd* ]] || fail "/data is not a virtio-blk device: $out"
assert_contains "$out" $'from the image\n640 0' "the disk's content"
size_kb=$(tail -1 <<<"$out" | awk '{print $2}')
(( size_kb > 200 * 1024 && size_kb <= 256 * 1024 )) || fail "a 256M disk shows $size_kb kB"
pass "RUNCVM_DISKS=/disks/d1,/data,ext4,256M: ext4 on $(grep " /data " <<<"$out" | cut -d' ' -f1) at /data, ${size_kb} kB, prepopulated from the image's /data"

# On a volume: the disk outlives the container, and a new container finds the data.
vm -v runcvm-disks:/disks -e RUNCVM_DISKS=/disks/d1,/data,ext4,256M runcvm-test/disks \
  sh -c 'echo "written in the first VM" >/data/persist; sync' || fail "writing to the disk"
out=$(vm -v runcvm-disks:/disks -e RUNCVM_DISKS=/disks/d1,/data,ext4,256M runcvm-test/disks \
  sh -c 'cat /data/persist /data/sub/hello')
[[ "$out" == $'written in the first VM\nfrom the image' ]] || fail "the second container read: $out"
volume=$(docker volume inspect -f '{{.Mountpoint}}' runcvm-disks)
e2fsck -fn "$volume/d1" >"$SCRATCH/fsck.log" 2>&1 || fail "the disk on the volume fails e2fsck: $(tail -5 "$SCRATCH/fsck.log")"
pass "on a volume the disk survives docker rm and a new container reads its data; e2fsck -fn is clean"

# Two disks, one of them existing (made by runcvm-build disk), one created.
mkdir -p "$SCRATCH/prebuilt/tree" && echo prebuilt >"$SCRATCH/prebuilt/tree/mark"
"$RUNCVM_BUILD" disk --size 64M --from "$SCRATCH/prebuilt/tree" "$SCRATCH/prebuilt/p.img" 2>/dev/null
out=$(vm -v "$SCRATCH/prebuilt:/disks" -e 'RUNCVM_DISKS=/disks/p.img,/mnt/p,ext4;/disks/new.img,/mnt/new,ext4,32M' \
  runcvm-test/disks sh -c 'cat /mnt/p/mark; grep -c " /mnt/[pn]e*w* ext4 " /proc/mounts; ls /mnt/new')
[[ "$out" == $'prebuilt\n2\nlost+found' ]] || fail "two disks: $out"
[[ -f "$SCRATCH/prebuilt/new.img" && $(stat -c %s "$SCRATCH/prebuilt/new.img") -eq $((32 << 20)) ]] || fail "the new disk was not created at 32M"
pass "two disks: an existing one from runcvm-build disk, and a new one created at its size"

# Bad entries: the container fails at once with one line, and nothing is created.
rc=0
err=$(vm -e RUNCVM_DISKS=x,y runcvm-test/disks true 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "a malformed RUNCVM_DISKS was accepted"
assert_contains "$err" 'RUNCVM_DISKS: entry 1 "x,y": expected <src>,<dst>,<fs>[,<size>]' "docker run's error"
mkdir -p "$SCRATCH/empty"
rc=0
err=$(vm -v "$SCRATCH/empty:/disks" -e 'RUNCVM_DISKS=/disks/a.img,/a,ext4,16M;/disks/b.img,/b,ext4' runcvm-test/disks true 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "a disk that can neither be found nor created was accepted"
assert_contains "$err" 'RUNCVM_DISKS: entry 2 "/disks/b.img": the file does not exist and no <size> was given to create it' "the error"
[[ $(grep -c . <<<"$err") -eq 1 ]] || fail "the error is not one line: $err"
[[ -z "$(ls -A "$SCRATCH/empty")" ]] || fail "a failed start created $(ls "$SCRATCH/empty")"
pass "bad entries fail in one line (at create, or at start before any disk is created)"
