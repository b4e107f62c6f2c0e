#!/usr/bin/env bash
# Assembles a development /opt/runcvm bundle from a build and this machine's QEMU and virtiofsd:
#   bin/      runcvm-runtime, runcvm-init, runcvm-vm-init, runcvm-exec (static), busybox (static)
#   libexec/  qemu-system-x86_64, virtiofsd
#   lib/      their shared libraries and the dynamic loader (they must run in any image), lib/qemu/ modules
#   share/qemu/ firmware; kernels/ from runcvm-build kernels
# The release bundle is built by `runcvm-build bundle` (issue 8); this is its stand-in for
# development and tests. usage: ci/dev-bundle.sh BUILD_DIR BUNDLE_DIR [CACHE_DIR]
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR BUNDLE_DIR [CACHE_DIR]}" && pwd)
bundle=${2:?bundle dir}
cache=${3:-${XDG_CACHE_HOME:-$HOME/.cache}/runcvm}
mkdir -p "$bundle"/{bin,libexec,lib/qemu,share}
install -m 0755 "$build"/bin/{runcvm-runtime,runcvm-init,runcvm-vm-init,runcvm-exec} "$bundle/bin/"
# RUNCVM_BREAK's shell in the VM (busybox-static).
install -m 0755 /bin/busybox "$bundle/bin/busybox"

qemu=$(command -v qemu-system-x86_64)
virtiofsd=""
for candidate in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do [[ -x $candidate ]] && virtiofsd=$candidate && break; done
[[ -n "$virtiofsd" ]] || { echo "dev-bundle: virtiofsd not found" >&2; exit 1; }
install -m 0755 "$qemu" "$bundle/libexec/qemu-system-x86_64"
install -m 0755 "$virtiofsd" "$bundle/libexec/virtiofsd"
moddir=$(dirname "$(dpkg -L qemu-system-x86 2>/dev/null | grep -m1 '/accel-tcg-x86_64.so$' || echo /usr/lib/x86_64-linux-gnu/qemu/x)")
install -m 0644 "$moddir"/{accel-tcg-x86_64,hw-display-virtio-gpu,hw-display-virtio-vga}.so "$bundle/lib/qemu/"

# The shared-library closure of everything in libexec and lib/qemu, plus the loader.
for binary in "$bundle"/libexec/* "$bundle"/lib/qemu/*.so; do
  ldd "$binary" | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}'
done | sort -u | while read -r library; do
  cp -L "$library" "$bundle/lib/$(basename "$library")"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$bundle/lib/ld-linux-x86-64.so.2"

# Debian builds QEMU with a firmware path of several directories; the bundle has one (-L).
rm -rf "$bundle/share/qemu"
cp -rL /usr/share/qemu "$bundle/share/qemu"
for firmware in /usr/share/seabios /usr/lib/ipxe/qemu; do
  [[ -d $firmware ]] && cp -L "$firmware"/* "$bundle/share/qemu/" 2>/dev/null || true
done

"$build/bin/runcvm-build" kernels --recipe debian-bookworm --out "$bundle" --cache "$cache"
echo "dev bundle ready in $bundle"
