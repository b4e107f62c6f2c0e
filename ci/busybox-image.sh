#!/usr/bin/env bash
# Imports a small image built from busybox-static into the local dockerd (no registry is needed):
# /bin/busybox with its common applets, and /etc/os-release with the given ID. With --rootfs the
# tree is written to DIR instead (containerd's `ctr run --rootfs`, podman's `--rootfs`).
# usage: ci/busybox-image.sh NAME [OS_ID]  |  ci/busybox-image.sh --rootfs DIR [OS_ID]
set -euo pipefail
if [[ ${1:-} == --rootfs ]]; then
  tree=${2:?usage: $0 --rootfs DIR [OS_ID]}
  os_id=${3:-debian}
  mkdir -p "$tree"
else
  name=${1:?usage: $0 NAME [OS_ID]}
  os_id=${2:-debian}
  tree=$(mktemp -d /tmp/runcvm-image.XXXXXX)
  trap 'rm -rf "$tree"' EXIT
fi
mkdir -p "$tree/bin" "$tree/etc" "$tree/tmp" "$tree/root"
chmod 1777 "$tree/tmp"
cp /bin/busybox "$tree/bin/busybox"
for applet in $("$tree/bin/busybox" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$tree/bin/$applet"
done
echo "ID=$os_id" >"$tree/etc/os-release"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tree/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tree/etc/group"
[[ -n ${name:-} ]] || exit 0
tar -C "$tree" -c . | docker import - "$name" >/dev/null
