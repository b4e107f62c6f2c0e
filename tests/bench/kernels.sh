#!/usr/bin/env bash
# Benchmark for `runcvm-build kernels` (not a timed test: it prints figures and ratios).
#   1. fetch-and-package the Debian bookworm kernel from a cold cache, from cached downloads (no
#      kept artifact), from the artifact cache into a new --out, and again into the same --out
#      (nothing changed), against the baseline `apt-get download` + `dpkg-deb -x` of the same
#      packages, measured in the same run;
#   2. initramfs size and build time against Debian's own initramfs-tools (mkinitramfs, default
#      MODULES=most) for the same kernel;
#   3. boot-to-init under QEMU TCG (guest uptime when /probe starts, and wall time to poweroff):
#      ours from virtiofs, against initramfs-tools booting the same probe from ext4 on virtio-blk
#      (initramfs-tools 0.142 cannot mount a virtiofs root).
# usage: tests/bench/kernels.sh BUILD_DIR [BOOT_RUNS]   (root; needs initramfs-tools for part 2-3)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR [BOOT_RUNS]}" && pwd)
RUNS=${2:-3}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/runcvm-bench.XXXXXX)
chmod 755 "$WORK"  # apt-get download hands the download to the _apt user
LINKED=()  # what mkinitramfs needs on the host (/lib/modules/<v>, /boot/config-<v>), removed at exit
cleanup() {
  local link
  for link in "${LINKED[@]}"; do rm -f "$link"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

build() {
  "$BUILD_DIR/bin/runcvm-build" kernels --recipe debian-bookworm --out "$WORK/$1" --cache "$WORK/cache" >/dev/null 2>&1
}

echo "== fetch and package debian-bookworm"
t0=$(now_ms); build out-cold; cold=$(( $(now_ms) - t0 ))
rm -rf "$WORK/cache/artifacts"
t0=$(now_ms); build out-downloads; downloads=$(( $(now_ms) - t0 ))
t0=$(now_ms); build out-warm; warm=$(( $(now_ms) - t0 ))
t0=$(now_ms); build out-warm; unchanged=$(( $(now_ms) - t0 ))
K="$WORK/out-warm/kernels/debian/latest"
VERSION=$(readlink "$K")
packages=$(python3 -c 'import json,sys; print(" ".join(p["name"] + "=" + p["version"] for p in json.load(open(sys.argv[1]))["packages"]))' "$K/kernel.json")

apt-get update -qq  # not timed: apt needs its lists to know the packages at all
mkdir -p "$WORK/apt" "$WORK/apt-tree"
chown _apt "$WORK/apt" 2>/dev/null || true
t0=$(now_ms)
(cd "$WORK/apt" && apt-get download -qq $packages)
for deb in "$WORK"/apt/*.deb; do dpkg-deb -x "$deb" "$WORK/apt-tree"; done
baseline=$(( $(now_ms) - t0 ))
echo "kernel $VERSION ($packages)"
echo "baseline apt-get download + dpkg-deb -x:        ${baseline} ms"
echo "runcvm-build kernels, cold cache:               ${cold} ms  (x$(ratio "$cold" "$baseline") of baseline; also verifies, indexes modules, builds the initramfs)"
echo "runcvm-build kernels, downloads cached:         ${downloads} ms  (x$(ratio "$downloads" "$baseline") of baseline; unpacks, indexes, builds again)"
echo "runcvm-build kernels, from the artifact cache:  ${warm} ms  (x$(ratio "$warm" "$baseline") of baseline; links the kept artifact)"
echo "runcvm-build kernels, nothing changed:          ${unchanged} ms  (x$(ratio "$unchanged" "$baseline") of baseline; reads the signed indexes only)"

if ! command -v mkinitramfs >/dev/null; then
  echo "initramfs-tools not installed: skipping the initramfs and boot comparisons (apt-get install initramfs-tools)"
  exit 0
fi

echo "== initramfs"
link_for_mkinitramfs() {  # target link
  [[ -e "$2" ]] && return
  mkdir -p "$(dirname "$2")"
  ln -s "$(realpath "$1")" "$2"
  LINKED+=("$2")
}
link_for_mkinitramfs "$K/modules" "/lib/modules/$VERSION"
link_for_mkinitramfs "$K/config" "/boot/config-$VERSION"
t0=$(now_ms)
mkinitramfs -o "$WORK/initrd.debian" "$VERSION" 2>"$WORK/mkinitramfs.log"
debian_build=$(( $(now_ms) - t0 ))
ours_size=$(stat -c %s "$K/initrd")
debian_size=$(stat -c %s "$WORK/initrd.debian")
echo "ours (19 modules + static init, zstd):          $ours_size bytes"
echo "initramfs-tools (MODULES=most, zstd):           $debian_size bytes  (ours is x$(ratio "$ours_size" "$debian_size") of it)"
echo "mkinitramfs build time:                         ${debian_build} ms  (ours is a part of the "downloads cached" run above)"

echo "== boot to init under QEMU TCG, median of $RUNS"
share="$WORK/share"
mkdir -p "$share/dev" "$share/proc" "$share/sys"  # initramfs-tools moves its mounts there
cp "$BUILD_DIR/tests/runcvm-boot-probe" "$share/probe"
mke2fs -q -t ext4 -d "$share" "$WORK/root.ext4" 64M >/dev/null
uptime_of() { sed -n 's/^runcvm-probe: uptime=//p' "$1" | tr -d '\r'; }
ours_up=(); ours_wall=(); deb_up=(); deb_wall=()
for _ in $(seq "$RUNS"); do
  t0=$(now_ms)
  bash "$SOURCE_DIR/ci/boot-kernel.sh" "$K" "$share" /probe >"$WORK/ours.log" 2>&1
  ours_wall+=($(( $(now_ms) - t0 )))
  ours_up+=("$(uptime_of "$WORK/ours.log")")
  t0=$(now_ms)
  timeout 300 qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 1 -m 512 \
    -drive file="$WORK/root.ext4",format=raw,if=virtio -kernel "$K/vmlinuz" -initrd "$WORK/initrd.debian" \
    -append "console=ttyS0 panic=-1 quiet root=/dev/vda rw init=/probe" \
    -display none -nodefaults -serial stdio -no-reboot >"$WORK/debian.log" 2>&1
  deb_wall+=($(( $(now_ms) - t0 )))
  deb_up+=("$(uptime_of "$WORK/debian.log")")
done
grep -q RUNCVM-PROBE-MARKER "$WORK/ours.log" || { echo "our boot did not reach the probe" >&2; cat "$WORK/ours.log" >&2; exit 1; }
grep -q RUNCVM-PROBE-MARKER "$WORK/debian.log" || { echo "the initramfs-tools boot did not reach the probe" >&2; tail -20 "$WORK/debian.log" >&2; exit 1; }
ou=$(echo "${ours_up[*]}" | median); ow=$(echo "${ours_wall[*]}" | median)
du=$(echo "${deb_up[*]}" | median); dw=$(echo "${deb_wall[*]}" | median)
echo "ours, virtiofs root:        init at ${ou} s guest uptime, ${ow} ms wall to poweroff"
echo "initramfs-tools, ext4 root: init at ${du} s guest uptime, ${dw} ms wall to poweroff"
echo "ratio ours/initramfs-tools: uptime x$(ratio "$ou" "$du"), wall x$(ratio "$ow" "$dw")"
