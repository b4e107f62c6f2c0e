#!/usr/bin/env bash
# Installs what building and testing runcvm needs on Debian bookworm (root or sudo). Idempotent;
# quiet unless something fails. Catch2 3.x comes from bookworm-backports, which is added if absent.
# With --bundle, only what building runcvm without tests and running `runcvm-build kernels` and
# `runcvm-build bundle` need (the Dockerfile's build stage): no test tools, no backports.
set -euo pipefail

case "${1:-}" in
  "") profile=test ;;
  --bundle) profile=bundle ;;
  *) echo "ci/install-deps.sh: unknown option \"$1\": expected --bundle or nothing" >&2; exit 2 ;;
esac

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config
  libarchive-dev liblzma-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libzstd-dev zlib1g-dev libext2fs-dev libtomlplusplus-dev
  # runcvm-build kernels at run time: OpenPGP verification and the distro keyrings
  gpgv debian-archive-keyring ca-certificates
  # runcvm-build kernels --recipe runcvm-minimal compiles a kernel (with the gcc and make above)
  flex bison bc libelf-dev cpio
  # runcvm-build bundle takes QEMU, its firmware and virtiofsd from these, and the static busybox
  # that RUNCVM_BREAK's shell in the VM is
  qemu-system-x86 qemu-system-common busybox-static
)
TEST_PACKAGES=(
  # the fuzz targets (libFuzzer); the format and the lint (ci/lint.sh)
  clang clang-format clang-tidy
  # kernel tests: kmod (modprobe/depmod), local mirrors (dpkg-deb, apt-ftparchive, gpg, openssl, python3)
  kmod cpio zstd xz-utils gzip apt-utils gpg openssl python3
  # runtime tests: a real dockerd and runc, and busybox-static to build test images without a registry
  docker.io runc
  # the compose test (Debian's docker-compose v1)
  docker-compose
  # a systemd image for the systemd-as-PID-1 test, built from deb.debian.org (no registry here);
  # an image with its own kernel and initramfs-tools for the in-image kernel test
  debootstrap mmdebstrap
  # podman with conmon and its CNI networks; dnsname resolves container names on a podman network
  podman golang-github-containernetworking-plugin-dnsname
  # a real terminal for the docker exec -it test
  tmux
  # the isolation test watches host files the runtime must never open
  inotify-tools
  # checking the bundle's OCI layout with other tools
  skopeo umoci
  # a real registry on 127.0.0.1 for the registry client's tests (htpasswd for its basic auth)
  docker-registry apache2-utils curl python3-jwt python3-cryptography openssl
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "ci/install-deps.sh: failed: $*" >&2
    exit 1
  fi
}

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
wanted=("${PACKAGES[@]}")
if [[ $profile == test ]]; then
  wanted+=("${TEST_PACKAGES[@]}" catch2)
  if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    $SUDO tee "/etc/apt/sources.list.d/${codename}-backports.sources" >/dev/null <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${codename}-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
fi

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "ci/install-deps.sh: installing ${missing[*]}"
  run $SUDO apt-get update -q
  # Catch2 3.x comes from backports: bookworm itself only has 2.x.
  run $SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
  if [[ $profile == test ]]; then
    run $SUDO apt-get install -y -q --no-install-recommends "${TEST_PACKAGES[@]}"
    run $SUDO apt-get install -y -q --no-install-recommends -t "${codename}-backports" catch2
  fi
fi
