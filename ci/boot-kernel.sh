#!/usr/bin/env bash
# Boots a packaged runcvm kernel under QEMU with directory SHARE as the virtiofs root (tag
# "runcvm-root") and runs INIT from it as PID 1; the serial console goes to stdout. Always TCG, so
# it behaves the same on machines with and without /dev/kvm. Stops virtiofsd when QEMU exits.
# usage: ci/boot-kernel.sh KERNEL_DIR SHARE INIT [EXTRA KERNEL ARGS…]
#   KERNEL_DIR holds vmlinuz and initrd (e.g. out/kernels/debian/latest), and vmlinux when the
#   kernel can be entered directly (PVH), which is booted then, as runcvm-init does
# env: BOOT_TIMEOUT (seconds, default 300); BOOT_IMAGE=vmlinuz boots through the decompressor
set -euo pipefail
kernel_dir=${1:?usage: $0 KERNEL_DIR SHARE INIT [ARGS…]}
share=${2:?share directory}
init=${3:?init path inside the share}
shift 3

virtiofsd=""
# virtiofsd ships inside qemu-system-common on bookworm and as its own package later.
for candidate in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd "$(command -v virtiofsd || true)"; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then virtiofsd=$candidate; break; fi
done
[[ -n "$virtiofsd" ]] || { echo "boot-kernel: virtiofsd not found (install qemu-system-common)" >&2; exit 1; }

runtime=$(mktemp -d /tmp/runcvm-boot.XXXXXX)
virtiofsd_pid=""
cleanup() {
  [[ -n "$virtiofsd_pid" ]] && kill "$virtiofsd_pid" 2>/dev/null && wait "$virtiofsd_pid" 2>/dev/null
  rm -rf "$runtime"
}
trap cleanup EXIT

# The boot arguments runcvm-init adds, read from their one home, so that this stays the floor of
# what runcvm does.
FAST_BOOT=$(sed -n 's/.*kFastBootArguments = "\(.*\)";$/\1/p' "$(dirname "$0")/../handoff/kernel_artifact.hpp")
[[ -n "$FAST_BOOT" ]] || { echo "boot-kernel: kFastBootArguments not found in handoff/kernel_artifact.hpp" >&2; exit 1; }
image=${BOOT_IMAGE:-}
if [[ -z "$image" ]]; then image=vmlinuz; [[ -f "$kernel_dir/vmlinux" ]] && image=vmlinux; fi

socket="$runtime/virtiofs.sock"
"$virtiofsd" --socket-path="$socket" -o source="$share" -o cache=none -o sandbox=chroot \
  >"$runtime/virtiofsd.log" 2>&1 &
virtiofsd_pid=$!
for _ in $(seq 100); do [[ -S "$socket" ]] && break; sleep 0.05; done
[[ -S "$socket" ]] || { echo "boot-kernel: virtiofsd did not start: $(cat "$runtime/virtiofsd.log")" >&2; exit 1; }

# memfd shared memory is what vhost-user-fs needs to map guest RAM into virtiofsd.
timeout "${BOOT_TIMEOUT:-300}" qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 1 -m 512 \
  -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
  -chardev socket,id=fs,path="$socket" -device vhost-user-fs-pci,chardev=fs,tag=runcvm-root \
  -kernel "$kernel_dir/$image" -initrd "$kernel_dir/initrd" \
  -append "console=ttyS0 panic=-1 quiet $FAST_BOOT runcvm.root=runcvm-root runcvm.init=$init $*" \
  -display none -nodefaults -serial stdio -no-reboot
