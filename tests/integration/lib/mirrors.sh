# Local package mirrors for the toolchain's tests: a static HTTP server on 127.0.0.1, fake kernel
# modules and module trees, .debs, an archive key and signed suites.
# Serves $1 on 127.0.0.1 and sets SERVED_URL to its base URL (not a subshell: the server must be
# stopped by this shell's cleanup).
serve_directory() {
  local dir=$1 port_file="$SCRATCH/http-port.$RANDOM"
  python3 - "$dir" "$port_file" >"$SCRATCH/http.log" 2>&1 <<'PY' &
import http.server, functools, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
open(sys.argv[2] + ".tmp", "w").write(str(server.server_address[1]))
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
PY
  local pid=$!
  on_exit "kill $pid"
  for _ in $(seq 100); do [[ -f "$port_file" ]] && break; sleep 0.05; done
  [[ -f "$port_file" ]] || fail "HTTP server did not start"
  SERVED_URL="http://127.0.0.1:$(cat "$port_file")"
}

# A fake kernel module: an ELF object whose .modinfo section carries the given fields.
# Usage: make_module OUT.ko "depends=a,b" "alias=…"
make_module() {
  local out=$1; shift
  local info="$SCRATCH/modinfo.$RANDOM"
  : >"$info"
  local field
  for field in "$@"; do printf '%s\0' "$field" >>"$info"; done
  mkdir -p "$(dirname "$out")"
  [[ -f "$SCRATCH/empty.o" ]] || cc -c -x c /dev/null -o "$SCRATCH/empty.o"
  objcopy --add-section ".modinfo=$info" --set-section-flags .modinfo=alloc,readonly "$SCRATCH/empty.o" "$out"
  rm -f "$info"
}

# A fake lib/modules/<version> tree shaped like a distro kernel's: virtio core and transports built in, the rest
# as modules with real dependency chains. $3 compresses modules (none, zst, gz, xz).
make_module_tree() {
  local root=$1 version=$2 compress=${3:-none}
  local dir="$root/lib/modules/$version"
  mkdir -p "$dir"
  local spec
  while read -r spec; do
    [[ -n "$spec" ]] || continue
    local path=${spec%% *} depends=${spec#* }
    [[ "$depends" == "-" ]] && depends=""
    make_module "$dir/$path" "license=GPL" "depends=$depends" "vermagic=$version SMP mod_unload"
    case "$compress" in
      zst) zstd -q --rm "$dir/$path" ;;
      gz) gzip -n "$dir/$path" ;;
      xz) xz --check=crc32 "$dir/$path" ;;
    esac
  done <<'MODULES'
kernel/drivers/block/virtio_blk.ko -
kernel/drivers/net/net_failover.ko failover
kernel/net/core/failover.ko -
kernel/drivers/net/virtio_net.ko net_failover
kernel/drivers/char/virtio_console.ko -
kernel/fs/fuse/fuse.ko -
kernel/fs/fuse/virtiofs.ko fuse
kernel/net/vmw_vsock/vsock.ko -
kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko vsock
kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko vmw_vsock_virtio_transport_common,vsock
kernel/fs/ext4/ext4.ko mbcache,jbd2,crc16
kernel/fs/jbd2/jbd2.ko -
kernel/fs/mbcache.ko -
kernel/lib/crc16.ko -
kernel/drivers/scsi/sd_mod.ko scsi_mod
kernel/drivers/scsi/scsi_mod.ko -
kernel/drivers/virtio/virtio_balloon.ko -
MODULES
  printf '%s\n' kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko \
    kernel/drivers/virtio/virtio_pci.ko kernel/drivers/virtio/virtio_mmio.ko >"$dir/modules.builtin"
  (cd "$dir" && find kernel -name '*.ko*' | sort) >"$dir/modules.order"
}

# Builds a .deb from a directory tree. Usage: make_deb DIR NAME VERSION "Depends" OUT.deb [xz|zstd]
make_deb() {
  local tree=$1 name=$2 version=$3 depends=$4 out=$5 compression=${6:-xz}
  mkdir -p "$tree/DEBIAN"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: runcvm tests <tests@example.test>"
    [[ -n "$depends" ]] && echo "Depends: $depends"
    echo "Description: test package $name"
  } >"$tree/DEBIAN/control"
  dpkg-deb --root-owner-group -Z"$compression" --build "$tree" "$out" >/dev/null
}

# A throwaway OpenPGP archive key: writes the public keyring to $1; the secret key stays in
# GNUPGHOME ($2, default $SCRATCH/gnupg, exported for publish_suite).
make_archive_key() {
  export GNUPGHOME="${2:-$SCRATCH/gnupg}"
  mkdir -p -m 700 "$GNUPGHOME"
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "runcvm test archive <archive@example.test>" ed25519 sign never 2>/dev/null
  gpg --batch --quiet --export archive@example.test >"$1"
}

# Writes dists/<suite>/{Release,InRelease,main/binary-amd64/Packages*} for the .debs in
# pool/<suite>/ of mirror root $1, signed with the archive key.
publish_suite() {
  local mirror=$1 suite=$2 index="$1/dists/$2/main/binary-amd64"
  mkdir -p "$index"
  (cd "$mirror" && apt-ftparchive packages "pool/$suite") >"$index/Packages"
  xz -kf "$index/Packages"
  gzip -nkf "$index/Packages"
  (cd "$mirror/dists/$suite" &&
    apt-ftparchive -o APT::FTPArchive::Release::Suite="$suite" -o APT::FTPArchive::Release::Codename="$suite" \
      -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
      release . >"$SCRATCH/Release.new")
  mv "$SCRATCH/Release.new" "$mirror/dists/$suite/Release"
  gpg --batch --quiet --yes --local-user archive@example.test --clearsign \
    --output "$mirror/dists/$suite/InRelease" "$mirror/dists/$suite/Release"
}
