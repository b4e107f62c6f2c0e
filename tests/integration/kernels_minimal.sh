#!/usr/bin/env bash
# The runcvm-minimal recipe end to end: Debian's linux-source compiled with defconfig plus
# kernel-recipes/runcvm-minimal.config (tens of minutes on 2 cores the first time, then kept in
# the cache by its compile inputs), installed as kernels/runcvm/<release>; a fragment option that
# Kconfig drops fails in one line naming it; the kernel boots with no initramfs module, and a
# container booted on it (q35 and microvm) keeps exit codes, split stdio, its network, a disk and
# a module of its own tree, and gives back the memory it frees (its balloon driver is built in).
# Heavy: bash ci/test.sh --heavy.
source "$(dirname "$0")/lib.sh"

OUT="$SCRATCH/out"
start=$(date +%s)
log=$("$RUNCVM_BUILD" kernels --recipe runcvm-minimal --out "$OUT" --cache "$TEST_CACHE" --timings 2>&1) ||
  fail "runcvm-build failed: $log"
echo "$log" | grep -E "compiling|kept in the cache|installed|timing: unpack" || true
echo "runcvm-build kernels --recipe runcvm-minimal: $(($(date +%s) - start)) s"
K="$OUT/kernels/runcvm/latest"
VERSION=$(readlink "$K")
[[ "$VERSION" == 6.1.*-runcvm ]] || fail "latest points at \"$VERSION\", expected 6.1.*-runcvm"
for f in vmlinuz vmlinux initrd config kernel.json modules/modules.dep modules/modules.builtin.bin modules/kernel/drivers/net/dummy.ko; do
  assert_file "$K/$f"
done
manifest=$(cat "$K/kernel.json")
assert_contains "$manifest" '"recipe": "runcvm-minimal"' "kernel.json"
assert_contains "$manifest" '"initramfs_modules": []' "kernel.json"
assert_contains "$manifest" '"name": "linux-source-6.1"' "kernel.json"
assert_contains "$manifest" '"toolchain": "gcc' "kernel.json"
# Everything to reach the virtiofs root is built in: the runtime boots it without the initramfs.
assert_contains "$manifest" '"root_without_initramfs": true' "kernel.json"
config_has() {  # each line given must be in the kernel's config
  local option
  for option; do grep -qx "$option" "$K/config" || fail "config lacks $option"; done
}
config_has CONFIG_VIRTIO_FS=y CONFIG_VIRTIO_PCI=y CONFIG_VIRTIO_MMIO=y CONFIG_OVERLAY_FS=y CONFIG_VXLAN=y \
  CONFIG_IP_VS=y CONFIG_PVH=y 'CONFIG_LOCALVERSION="-runcvm"'
# RUNCVM_BALLOON: the balloon's driver built in, with free page reporting.
config_has CONFIG_VIRTIO_BALLOON=y CONFIG_PAGE_REPORTING=y
! grep -q "^CONFIG_SOUND=" "$K/config" || fail "config has CONFIG_SOUND, which the fragment switches off"
# The drivers of devices runcvm attaches on request are modules: not probed at boot.
config_has CONFIG_DRM=m CONFIG_DRM_VIRTIO_GPU=m CONFIG_USB_XHCI_PCI=m CONFIG_IPV6_SIT=m
# Boot-time cuts (docs/PERFORMANCE.md): no W+X walk, no loop devices made in advance, no jitter
# entropy self-test (IPsec, which pulled it in, is a module).
config_has '# CONFIG_DEBUG_WX is not set' CONFIG_BLK_DEV_LOOP_MIN_COUNT=0 CONFIG_CRYPTO_JITTERENTROPY=m CONFIG_INET_ESP=m
# Static keys are not patched code, and kprobes' handler takes a stale int3 (below).
config_has '# CONFIG_JUMP_LABEL is not set' CONFIG_KPROBES=y
# modprobe finds a module of the tree by our indexes, and a built-in one as built in.
mkdir -p "$SCRATCH/root/lib/modules"
ln -s "$(cd "$K/modules" && pwd)" "$SCRATCH/root/lib/modules/$VERSION"
deps=$(modprobe -d "$SCRATCH/root" -S "$VERSION" --show-depends dummy)
assert_contains "$deps" "kernel/drivers/net/dummy.ko" "modprobe --show-depends dummy"
builtin=$(modprobe -d "$SCRATCH/root" -S "$VERSION" --show-depends virtiofs)
assert_contains "$builtin" "builtin virtiofs" "modprobe --show-depends virtiofs"
size=$(du -k "$K/initrd" | cut -f1)
((size < 1024)) || fail "initrd is ${size} KiB: it should hold the init alone"
pass "compiled and installed $VERSION: fragment options kept, dummy a module, virtiofs built in, initrd ${size} KiB"

# Nothing changed: up to date at once. The artifact gone but its compiled kernel kept: indexed
# and packed again, not compiled again.
start=$(date +%s%N)
log=$("$RUNCVM_BUILD" kernels --recipe runcvm-minimal --out "$OUT" --cache "$TEST_CACHE" 2>&1) || fail "second run: $log"
ms=$((($(date +%s%N) - start) / 1000000))
assert_contains "$log" "is up to date" "the second run"
key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inputs"])' "$K/kernel.json")
mv "$TEST_CACHE/artifacts/$key" "$SCRATCH/kept-artifact"
on_exit 'mv "$SCRATCH/kept-artifact" "$TEST_CACHE/artifacts/$key" 2>/dev/null'
start=$(date +%s)
log=$("$RUNCVM_BUILD" kernels --recipe runcvm-minimal --out "$SCRATCH/out2" --cache "$TEST_CACHE" 2>&1) || fail "third run: $log"
seconds=$(($(date +%s) - start))
assert_contains "$log" "kept in the cache: not compiling it again" "a run with the compiled kernel kept"
((seconds < 120)) || fail "re-packing a kept compiled kernel took ${seconds} s"
cmp -s "$K/vmlinux" "$SCRATCH/out2/kernels/runcvm/$VERSION/vmlinux" || fail "the kept kernel differs"
rm -rf "$TEST_CACHE/artifacts/$key"
mv "$SCRATCH/kept-artifact" "$TEST_CACHE/artifacts/$key"
pass "warm run up to date in ${ms} ms; with the compiled kernel kept, ${seconds} s and no compile"

# A fragment option Kconfig cannot keep (a dependency off, or no such option): one line naming it.
mkdir "$SCRATCH/recipes"
sed 's/"config_fragment": "runcvm-minimal.config"/"config_fragment": "bad.config"/' \
  "$SOURCE_DIR/kernel-recipes/runcvm-minimal.json" >"$SCRATCH/recipes/bad.json"
printf 'CONFIG_VIRTIO_FS=y\nCONFIG_NOT_AN_OPTION=y\n# CONFIG_VIRTIO is not set\n' >"$SCRATCH/recipes/bad.config"
# CONFIG_VIRTIO_FS needs CONFIG_VIRTIO, which the fragment switches off but defconfig's drivers select.
expect_one_line_error 'bad.config: Kconfig did not keep 3 settings: CONFIG_VIRTIO_FS=y (got: is not set), CONFIG_NOT_AN_OPTION=y (got: is not set), # CONFIG_VIRTIO is not set (got: y)' \
  "$RUNCVM_BUILD" kernels --recipe "$SCRATCH/recipes/bad.json" --out "$SCRATCH/bad-out" --cache "$TEST_CACHE"
assert_absent "$SCRATCH/bad-out/kernels"
printf 'CONFIG_VIRTIO_FS=y\nVIRTIO=y\n' >"$SCRATCH/recipes/bad.config"
expect_one_line_error 'bad.config: line 2 "VIRTIO=y": expected CONFIG_<NAME>=<value>' \
  "$RUNCVM_BUILD" kernels --recipe "$SCRATCH/recipes/bad.json" --out "$SCRATCH/bad-out" --cache "$TEST_CACHE"
pass "a fragment setting Kconfig drops, and a malformed fragment line, fail in one line naming them"

# Bare QEMU: no initramfs module to load, the probe runs from the virtiofs root.
mkdir -p "$SCRATCH/share"
cp "$BUILD_DIR/tests/runcvm-boot-probe" "$SCRATCH/share/probe"
boot_with_virtiofs "$K" "$SCRATCH/share" /probe "$SCRATCH/boot.log" || fail "boot: $(tail -5 "$SCRATCH/boot.log")"
assert_contains "$(cat "$SCRATCH/boot.log")" "runcvm-probe: release=$VERSION" "the console"
pass "boots to the probe on its virtiofs root"

# In a container, beside the bundle's Debian kernel.
RUNCVM_DEV_RECIPES="debian-bookworm runcvm-minimal" start_dockerd_with_runcvm
import_busybox_image runcvm-test/busybox debian
for machine in q35 microvm; do
  rc=0
  vm -e RUNCVM_KERNEL=runcvm -e RUNCVM_QEMU_MACHINE=$machine runcvm-test/busybox \
    sh -c 'uname -r; echo to-stderr >&2; exit 3' >"$SCRATCH/vm-out" 2>"$SCRATCH/vm-err" || rc=$?
  [[ $rc -eq 3 && "$(cat "$SCRATCH/vm-out")" == "$VERSION" && "$(cat "$SCRATCH/vm-err")" == to-stderr ]] ||
    fail "$machine: exit $rc, stdout [$(cat "$SCRATCH/vm-out")], stderr [$(cat "$SCRATCH/vm-err")]"
done
pass "a container boots $VERSION on q35 and microvm: exit code 3, stdout and stderr apart"

# Booted (RUNCVM_TEMPLATE=0), no initramfs: the kernel mounted the root by its tag and started
# runcvm-vm-init itself; a --read-only root stays read-only.
out=$(vm -e RUNCVM_KERNEL=runcvm -e RUNCVM_TEMPLATE=0 -e RUNCVM_TIMINGS=1 --read-only runcvm-test/busybox \
  sh -c 'cat /proc/cmdline; grep " / " /proc/mounts | cut -d" " -f3; touch /x 2>/dev/null || echo read-only' 2>"$SCRATCH/err")
assert_contains "$out" "root=runcvm-root rootfstype=virtiofs rw init=/opt/runcvm/bin/runcvm-vm-init" "the VM's command line"
[[ $out != *runcvm.root=* ]] || fail "an initramfs key on the command line: $out"
assert_contains "$out" "virtiofs" "the VM's root"
assert_contains "$out" "read-only" "writing to a --read-only root"
assert_contains "$(cat "$SCRATCH/err")" " initramfs=0 " "RUNCVM_TIMINGS"
pass "$VERSION boots without the initramfs: root=runcvm-root on its command line, the stage 0 ms"

# From a template (the default): the template waits in the initramfs for its root, so this kernel
# keeps its initramfs there; the copy is restored, not booted, and is a machine of its own.
for run in 1 2; do
  vm -e RUNCVM_KERNEL=runcvm -e RUNCVM_TIMINGS=1 runcvm-test/busybox \
    sh -c 'cat /proc/cmdline; cat /proc/sys/kernel/random/boot_id; uname -r' >"$SCRATCH/clone$run" 2>"$SCRATCH/clone$run.err" ||
    fail "RUNCVM_KERNEL=runcvm from a template: $(cat "$SCRATCH/clone$run.err")"
  assert_contains "$(cat "$SCRATCH/clone$run")" "runcvm.template" "the restored VM's command line"
  assert_contains "$(cat "$SCRATCH/clone$run")" "$VERSION" "the restored VM's kernel"
  assert_contains "$(cat "$SCRATCH/clone$run.err")" " restore=" "RUNCVM_TIMINGS of a restored VM"
done
[[ $(sed -n 2p "$SCRATCH/clone1") != $(sed -n 2p "$SCRATCH/clone2") ]] ||
  fail "two copies of the runcvm-minimal template share boot_id $(sed -n 2p "$SCRATCH/clone1")"
pass "$VERSION starts from a template by default: restored with its initramfs, each copy its own boot_id"

# RUNCVM_BALLOON on this kernel: 300 MB written into the VM's tmpfs and deleted come back to the host.
source "$SOURCE_DIR/tests/lib/cgroup_memory.sh"
id=$(docker run -d --runtime=runcvm -e RUNCVM_KERNEL=runcvm -m 1g --tmpfs /big:size=400m runcvm-test/busybox sleep 100000)
on_exit "docker rm -f $id >/dev/null 2>&1"
retry_for 120 docker exec "$id" true || fail "RUNCVM_KERNEL=runcvm -m 1g did not start"
docker exec "$id" dd if=/dev/zero of=/big/f bs=1M count=300 2>/dev/null
peak=$(container_memory_mib "$id")
docker exec "$id" rm /big/f
freed() { (($1 - $(container_memory_mib "$2") >= 250)); }
retry_for 30 freed "$peak" "$id" ||
  fail "$VERSION: 30 s after freeing 300 MB the container holds $(container_memory_mib "$id") MiB (peak $peak)"
pass "$VERSION reports freed pages: the container went from $peak to $(container_memory_mib "$id") MiB"
docker rm -f "$id" >/dev/null

# A static key flipped while the other vCPU runs the code it patches: under TCG a vCPU can still
# execute the int3 of a patch another vCPU has completed, and the kernel dies of it ("int3: 0000
# [#1]"; runcvm-minimal with jump labels and no kprobes did in 4 of 4 runs, with kprobes in 1 of
# 15). The workload flips timer migration's key 20000 times while a second process arms timers.
for kernel in runcvm debian; do
  # The console (RUNCVM_KERNEL_DEBUG) goes to stderr: the oops, if any, for the failure message.
  out=$(vm -e RUNCVM_KERNEL=$kernel -e RUNCVM_KERNEL_DEBUG=1 --privileged --cpus 2 runcvm-test/busybox sh -c '
    (while :; do usleep 1000; done) &
    i=0; while [ $i -lt 20000 ]; do echo 0 >/proc/sys/kernel/timer_migration; echo 1 >/proc/sys/kernel/timer_migration; i=$((i + 1)); done
    echo "flipped $i times on $(nproc) CPUs"' 2>"$SCRATCH/console") ||
    fail "RUNCVM_KERNEL=$kernel: the VM died flipping a static key: $(grep -A12 -m1 "int3:\|Oops\|BUG:\|Kernel panic" "$SCRATCH/console" ||
      tail -15 "$SCRATCH/console")"
  [[ $out == "flipped 20000 times on 2 CPUs" ]] || fail "RUNCVM_KERNEL=$kernel: $out"
done
pass "a static key flipped 20000 times while the other vCPU arms timers: both kernels survive"

# As in a container, --network none leaves lo alone (a built-in tunnel driver adds its fallback
# device, sit0 or tunl0, to every network namespace).
links=$(vm -e RUNCVM_KERNEL=runcvm --network none runcvm-test/busybox ls /sys/class/net | tr '\n' ' ')
[[ $links == "lo " ]] || fail "--network none on $VERSION: the VM has $links"
pass "--network none on $VERSION: lo alone"

docker_network runcvm-minimal-net
server=$(docker run -d --network runcvm-minimal-net --name web runcvm-test/busybox httpd -f -p 8080 -h /etc)
on_exit "docker rm -f $server >/dev/null 2>&1"
out=$(vm -e RUNCVM_KERNEL=runcvm --network runcvm-minimal-net --cap-add SYS_MODULE --cap-add SYS_ADMIN \
  -e RUNCVM_DISKS=/disks/d1,/data,ext4,64M -v "$SCRATCH/disks:/disks" runcvm-test/busybox \
  sh -c 'wget -qO- http://web:8080/hostname; modprobe dummy && grep -o "^dummy " /proc/modules;
         grep " /data " /proc/mounts | cut -d" " -f3; echo ok >/data/f && cat /data/f;
         dd if=/dev/zero of=/data/img bs=1M count=1 2>/dev/null; losetup -f /data/img && losetup -a | grep -c /data/img')
expected="$(docker exec "$server" hostname)
dummy 
ext4
ok
1"
[[ "$out" == "$expected" ]] || fail "network, module, disk on $VERSION: got [$out], expected [$expected]"
pass "on $VERSION: a name on a user network answers, modprobe dummy loads, an ext4 disk mounts and writes, a loop device is made on demand"
