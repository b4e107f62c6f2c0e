# Images for the tests, made here (no registry is reachable): busybox-static, debootstrap and
# mmdebstrap roots.
# A small image from busybox-static (no registry is reachable), with the given os-release ID.
# Usage: import_busybox_image NAME OS_ID
import_busybox_image() { bash "$SOURCE_DIR/ci/busybox-image.sh" "$1" "$2"; }

# A minimal Debian bookworm image (glibc) made with debootstrap from deb.debian.org and imported
# into the running dockerd as NAME. Usage: import_debian_image NAME
import_debian_image() {
  command -v debootstrap >/dev/null || fail "debootstrap is needed (apt-get install debootstrap)"
  debootstrap --variant=minbase bookworm "$SCRATCH/debian" http://deb.debian.org/debian >"$SCRATCH/debootstrap.log" 2>&1 ||
    fail "debootstrap: $(tail -3 "$SCRATCH/debootstrap.log")"
  tar -C "$SCRATCH/debian" -c . | docker import - "$1" >/dev/null
  rm -rf "$SCRATCH/debian"
}

# A Debian root with PACKAGES (comma-separated) made with mmdebstrap from deb.debian.org, as a tar
# kept in the test cache under a name from the suite and package list (the heavy tests that use
# one build it once per cache); sets MMDEBSTRAP_TAR. Usage: mmdebstrap_tar SUITE PACKAGES
mmdebstrap_tar() {
  command -v mmdebstrap >/dev/null || fail "mmdebstrap is needed (apt-get install mmdebstrap)"
  MMDEBSTRAP_TAR="$TEST_CACHE/images/$1-$(sha256sum <<<"$2" | cut -c1-12).tar"
  [[ ! -f $MMDEBSTRAP_TAR ]] || return 0
  mkdir -p "$(dirname "$MMDEBSTRAP_TAR")"
  # mmdebstrap picks its output's format by the name's ending.
  mmdebstrap --variant=apt --include="$2" "$1" "${MMDEBSTRAP_TAR%.tar}.partial.tar" http://deb.debian.org/debian \
    >"$SCRATCH/mmdebstrap.log" 2>&1 || fail "mmdebstrap $1: $(tail -3 "$SCRATCH/mmdebstrap.log")"
  mv "${MMDEBSTRAP_TAR%.tar}.partial.tar" "$MMDEBSTRAP_TAR"
}
# A Debian bookworm image with PACKAGES (comma-separated), imported into the running dockerd as
# NAME. Usage: import_mmdebstrap_image NAME PACKAGES
import_mmdebstrap_image() {
  mmdebstrap_tar bookworm "$2"
  docker import "$MMDEBSTRAP_TAR" "$1" >/dev/null
}
