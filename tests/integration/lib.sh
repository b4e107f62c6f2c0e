# Shared helpers for the integration tests: assertions, a scratch directory removed on exit, a
# static HTTP server on 127.0.0.1 and builders for fake kernel modules and local package mirrors.
# Sourced by each test with the build directory as $1.
set -euo pipefail

BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNCVM_BUILD="$BUILD_DIR/bin/runcvm-build"
# Downloads and kernel artifacts shared by the tests' dev bundles (content-verified, written by
# rename, so tests running at once may share it): the Debian kernel is fetched and packaged once.
TEST_CACHE=${RUNCVM_TEST_CACHE:-$BUILD_DIR/test-cache}
SCRATCH=$(mktemp -d /tmp/runcvm-it.XXXXXX)
CLEANUPS=()
cleanup() {
  local i
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || true; done
  # What a stopped dockerd can leave mounted below its exec root (network namespaces).
  awk -v scratch="$SCRATCH/" 'index($2, scratch) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
on_exit() { CLEANUPS+=("$1"); }

# ctest kills a test at its timeout without a word of why (CI once saw a VM hang with nothing but
# the last "ok" line): 30 s before that, print what still runs and the logs' tails to stderr.
hang_report() {
  echo "HANG REPORT: $(basename "$0") still runs after $(($(date +%s) - TEST_STARTED)) s"
  ps -eo pid,ppid,etimes,stat,args --forest | grep -E "dockerd|containerd|runc|runcvm|qemu|virtiofsd|docker |ctr |podman|conmon" |
    grep -v grep | cut -c1-240 | head -60
  [[ ! -S $SCRATCH/dockerd/docker.sock ]] || DOCKER_HOST="unix://$SCRATCH/dockerd/docker.sock" docker ps -a 2>&1 | head -20
  # A VM that stopped taking its channel: bytes queued towards QEMU (Send-Q of runcvm-init's end).
  echo "-- runcvm-init's sockets (Recv-Q Send-Q)"; ss -xp 2>/dev/null | grep -E 'runcvm-init|channel|exec-port' | head -20
  [[ ! -f /run/runcvm/debug.log ]] || { echo "-- /run/runcvm/debug.log"; tail -n 30 /run/runcvm/debug.log | cut -c1-300; }
  local log
  for log in "$SCRATCH/dockerd/dockerd.log" "$SCRATCH/dockerd26.log"; do
    [[ ! -f $log ]] || { echo "-- $log"; tail -n 20 "$log"; }
  done
}
TEST_STARTED=$(date +%s)
# Under ctest (which sets RUNCVM_TEST_TIMEOUT), shortly before its timeout the test ends itself so
# that its cleanups run: ctest's kill would leave a dockerd's containers running (their shims
# outlive it), and their VMs would load the machine for the rest of the suite. What the shell
# waits on is killed (every descendant but a dockerd, which its cleanup stops in order) and the
# shell told: its TERM trap exits, and the EXIT trap cleans up. Run by hand, a test only reports.
TEST_SHELL=$$
trap 'exit 124' TERM
descendants() {  # pid: its descendants, leaving out the watchdog, dockerd and what runs below them
  local child
  for child in $(pgrep -P "$1"); do
    [[ $child == "$WATCHDOG" || $(cat /proc/"$child"/comm 2>/dev/null) == dockerd ]] && continue
    echo "$child"
    descendants "$child"
  done
}
(
  set +e
  WATCHDOG=$BASHPID
  timeout=${RUNCVM_TEST_TIMEOUT:-900}
  margin=$((timeout >= 300 ? 60 : timeout / 5))
  deadline=$((TEST_STARTED + timeout - margin))
  while (($(date +%s) < deadline)); do
    # Not on the test's output: ctest waits for every holder of it to close, and a sleep left
    # behind by the watchdog's kill added up to 5 s to every test.
    sleep 5 >/dev/null 2>&1
    (($(awk '{print $4}' /proc/"$WATCHDOG"/stat) == TEST_SHELL)) || exit 0  # the test ended without us
  done
  hang_report >&2
  [[ -n ${RUNCVM_TEST_TIMEOUT:-} ]] || exit 0
  echo "FAIL: $(basename "$0") did not end within $((timeout - margin)) s: ending it and cleaning up" >&2
  waited_on=$(descendants "$TEST_SHELL")
  kill -TERM "$TEST_SHELL"
  [[ -z $waited_on ]] || kill -KILL $waited_on 2>/dev/null
) &
on_exit "kill $! 2>/dev/null"

# A TCP port on 127.0.0.1 free right now (the kernel's pick). Usage: port=$(free_port)
# A docker network for this test: docker_network [OPTIONS…] NAME. At the end its containers go,
# then the network (before the dockerd stops: registered after it started).
TEST_NETWORKS=()
docker_network() {
  ((${#TEST_NETWORKS[@]})) || on_exit 'docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1; for n in "${TEST_NETWORKS[@]}"; do docker network rm "$n" >/dev/null 2>&1; done'
  docker network create "$@" >/dev/null
  TEST_NETWORKS+=("${@: -1}")
}
# A container's address on one network: address_on CONTAINER NETWORK
address_on() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# A web server's command (busybox httpd on port 80) serving "<its $0> in <the kernel's release>".
# Usage: sh -c "$WEB_SERVER" NAME
WEB_SERVER='mkdir -p /www && echo "$0 in $(uname -r)" >/www/index.html && exec httpd -f -p 80 -h /www'

fail() { echo "FAIL: $*" >&2; exit 1; }
# Each check says when it passed (seconds since the test started): where a test spends its time.
pass() { echo "ok [+$(($(date +%s) - TEST_STARTED))s]: $*"; }

assert_contains() {  # haystack needle [what]
  [[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain \"$2\"; it was: $1"
}
# Changes the byte at OFFSET of FILE to a different value (its complement), in place.
corrupt_byte() {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); old = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([old[0] ^ 0xFF]))
PY
}
assert_file() { [[ -f "$1" ]] || fail "missing file $1"; }
assert_absent() { [[ ! -e "$1" ]] || fail "$1 exists but should not"; }

# Runs a command that must fail with exactly one line on stderr that contains $1 and
# starts with "<program>: error: ". Usage: expect_one_line_error NEEDLE command…
expect_one_line_error() {
  local needle=$1; shift
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  [[ $rc -ne 0 ]] || fail "expected failure from: $*"
  local lines
  lines=$(printf '%s\n' "$err" | grep -c '' || true)
  [[ "$lines" -eq 1 ]] || fail "expected one line on stderr, got $lines: $err"
  assert_contains "$err" ": error: " "stderr"
  assert_contains "$err" "$needle" "stderr"
  LAST_ERROR=$err
}

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

# Boots KERNEL_DIR/{vmlinuz,initrd} with SHARE as the virtiofs root and INIT as PID 1 (see
# ci/boot-kernel.sh); the console goes to LOG. Usage: boot_with_virtiofs KERNEL_DIR SHARE INIT LOG [ARGS…]
boot_with_virtiofs() {
  local kernel_dir=$1 share=$2 init=$3 log=$4
  shift 4
  bash "$SOURCE_DIR/ci/boot-kernel.sh" "$kernel_dir" "$share" "$init" "$@" >"$log" 2>&1
}

# A private dockerd for this test, stopped (with its containers) when the test ends. Sets
# DOCKER_HOST and DOCKER_EXEC_ROOT. Usage: start_dockerd DAEMON_JSON
start_dockerd() {
  DOCKERD_CONFIG=$1
  local root="$SCRATCH/dockerd"
  mkdir -p "$root"
  command -v dockerd >/dev/null || fail "dockerd is not installed (apt-get install docker.io)"
  export DOCKER_HOST="unix://$root/docker.sock" DOCKER_EXEC_ROOT="$root/exec"
  drop_stale_bridge_rules
  launch_dockerd
  on_exit 'stop_dockerd "$(cat "$SCRATCH/dockerd/dockerd.pid" 2>/dev/null)"'
}
# The host's iptables rules naming a user network's bridge that is gone. A dockerd that dies before
# removing its networks leaves them, and its "-s <subnet> ! -o br-<gone> -j MASQUERADE" then
# masquerades everything the next network on that subnet sends between its own containers: the
# swarm's vxlan between two VMs arrived from the gateway's address and its ingress stopped answering.
drop_stale_bridge_rules() {
  local table rule bridge
  for table in nat filter; do
    { iptables -t "$table" -S 2>/dev/null | grep -E -- '-[io] br-[0-9a-f]{12}( |$)' || true; } | while read -r rule; do
      bridge=$(grep -oE 'br-[0-9a-f]{12}' <<<"$rule" | head -1)
      [[ -e /sys/class/net/$bridge ]] && continue
      eval "iptables -t $table ${rule/#-A/-D}" 2>/dev/null || true
    done
  done
}
launch_dockerd() {
  local root="$SCRATCH/dockerd"
  dockerd --data-root "$root/data" --exec-root "$root/exec" --pidfile "$root/dockerd.pid" \
    -H "unix://$root/docker.sock" --config-file "$DOCKERD_CONFIG" >>"$root/dockerd.log" 2>&1 &
  for _ in $(seq 150); do docker version >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "dockerd did not start: $(tail -5 "$root/dockerd.log")"
}
# Stops this test's dockerd as a service manager would (SIGTERM, then waits) and starts it again
# with the same configuration; with live-restore its containers run on meanwhile.
restart_dockerd() {
  local pid
  pid=$(cat "$SCRATCH/dockerd/dockerd.pid")
  kill "$pid"
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || fail "dockerd did not stop within 30 s of SIGTERM"
  launch_dockerd
}
# What the installer asks for: dockerd rereads daemon.json on SIGHUP; waits until runcvm is listed.
reload_dockerd_for_runcvm() {
  kill -HUP "$(cat "$SCRATCH/dockerd/dockerd.pid")"
  for _ in $(seq 50); do docker info 2>/dev/null | grep -q "Runtimes:.*runcvm" && return 0; sleep 0.2; done
  fail "dockerd did not pick up the runtime after SIGHUP"
}
stop_dockerd() {  # dockerd's PID [the containerd it started, if not the one in its exec root]
  local containerd=${2:-}
  [[ -n $containerd ]] || containerd=$(cat "$SCRATCH/dockerd/exec/containerd/containerd.pid" 2>/dev/null) || true
  # A user network's bridge (br-<id>) outlives its dockerd; leftovers take subnets from Docker's
  # pools and the next dockerd's networks land elsewhere (192.168.x once 172.18-31 are gone).
  local bridges
  bridges=$(docker network ls -q --filter driver=bridge 2>/dev/null | sed 's/^/br-/') || true
  docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network prune -f >/dev/null 2>&1 || true
  kill "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  for bridge in $bridges; do ip link delete "$bridge" 2>/dev/null || true; done
  drop_stale_bridge_rules
  # With live-restore dockerd leaves the containerd it started running: stop that too.
  [[ -z $containerd ]] || kill "$containerd" 2>/dev/null || true
}

# A dev bundle from this build in the scratch directory ($BUNDLE).
make_dev_bundle() {
  BUNDLE="$SCRATCH/opt-runcvm"
  bash "$SOURCE_DIR/ci/dev-bundle.sh" "$BUILD_DIR" "$BUNDLE" "$TEST_CACHE" >/dev/null 2>&1 ||
    fail "ci/dev-bundle.sh failed"
}
# A dev bundle from this build in the scratch directory, registered as the runcvm runtime of a
# private dockerd (started). Sets BUNDLE. Usage: start_dockerd_with_runcvm [MORE_DAEMON_JSON],
# e.g. '"live-restore": true'.
# With RUNCVM_TEST_DOCKERD=trixie the dockerd is Debian trixie's (start_trixie_dockerd).
start_dockerd_with_runcvm() {
  make_dev_bundle
  if [[ ${RUNCVM_TEST_DOCKERD:-} == trixie ]]; then
    start_trixie_dockerd "${1:-}"
  else
    printf '{"runtimes": {"runcvm": {"path": "%s"}}%s}\n' "$BUNDLE/bin/runcvm-runtime" "${1:+, $1}" >"$SCRATCH/daemon.json"
    start_dockerd "$SCRATCH/daemon.json"
  fi
  on_exit 'rm -f $(kvm_verdict_files)'
}
# Docker 26 and later: Debian trixie's docker.io (26.x, its containerd and runc) in a root made with
# mmdebstrap (kept in the test cache), with $BUNDLE at /opt/runcvm and runcvm registered
# (MORE_DAEMON_JSON as for start_dockerd_with_runcvm). Docker 26 attaches a container's networks
# after `runc create`, where 20.10 did it in a prestart hook. Sets TRIXIE_ROOT and DOCKER_HOST
# (the host's CLI works with it); d26 runs trixie's own CLI. Usage: start_trixie_dockerd [JSON]
start_trixie_dockerd() {
  mmdebstrap_tar trixie docker.io,docker-cli,iptables,iproute2,procps,ca-certificates
  TRIXIE_ROOT="$SCRATCH/trixie"
  local root=$TRIXIE_ROOT dir
  mkdir -p "$root"
  tar -C "$root" -xf "$MMDEBSTRAP_TAR"
  # The root becomes the real root of a mount namespace of its own (pivot_root, not chroot: a
  # namespace runc creates from inside a chroot has the host's / as its root, and `runc exec`,
  # which enters the container's namespace at that root, would not find the container's files).
  # It sees the host's kernel interfaces, a /run of its own (with the host's /run/runcvm: the
  # debug log and KVM verdicts the tests read) and the bundle read-only; dockerd's socket and pid
  # file are in /sock, a directory of the root, so the host reaches them too.
  mkdir -p "$root/opt/runcvm" "$root/sock" "$root/.old-root" "$root/etc/docker" /run/runcvm
  mount --bind "$root" "$root"
  for dir in proc sys dev; do
    mount --rbind "/$dir" "$root/$dir"
    # Unmounting these at the end must not reach the host's own mounts below them.
    mount --make-rslave "$root/$dir"
  done
  mount --bind "$BUNDLE" "$root/opt/runcvm"
  mount -o remount,bind,ro "$root/opt/runcvm"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  printf '{"runtimes": {"runcvm": {"path": "/opt/runcvm/bin/runcvm-runtime"}}%s}\n' "${1:+, $1}" \
    >"$root/etc/docker/daemon.json"
  # The root has no mount programs: the old root goes with the host's static busybox.
  unshare --mount --propagation private -- sh -c '
    mount -t tmpfs tmpfs "$1/run" && mkdir "$1/run/runcvm" && mount --bind /run/runcvm "$1/run/runcvm" &&
      cd "$1" && pivot_root . .old-root && /.old-root/bin/busybox umount -l /.old-root &&
      exec dockerd -H unix:///sock/docker.sock --pidfile /sock/docker.pid' sh "$root" >"$SCRATCH/dockerd26.log" 2>&1 &
  on_exit stop_trixie_dockerd
  export DOCKER_HOST="unix://$root/sock/docker.sock"
  for _ in $(seq 150); do docker version >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "trixie's dockerd did not start: $(tail -5 "$SCRATCH/dockerd26.log")"
}
d26() { chroot "$TRIXIE_ROOT" docker -H unix:///sock/docker.sock "$@"; }
stop_trixie_dockerd() {
  local pid
  pid=$(cat "$TRIXIE_ROOT/sock/docker.pid" 2>/dev/null) || return 0
  # The containerd it started, by parent: its pid file is in the namespace's own /run.
  stop_dockerd "$pid" "$(pgrep -P "$pid" -x containerd)"
}
# The KVM verdicts (/run/runcvm/kvm) recorded for this test's bundle: those keyed by its QEMU's
# device and inode.
kvm_verdict_files() {
  local qemu="$BUNDLE/libexec/qemu-system-x86_64"
  grep -l "\"qemu\": \"$(stat -c %d "$qemu"):$(stat -c %i "$qemu"):" /run/runcvm/kvm/*.json 2>/dev/null || true
}

# The PIDs of a container's helpers (children of its runcvm-init: QEMU, virtiofsd) whose command
# line matches PATTERN. Usage: helper_pids CONTAINER PATTERN
helper_pids() {  # container, pattern
  local init child
  init=$(docker inspect -f '{{.State.Pid}}' "$1")
  for child in $(cat /proc/"$init"/task/*/children); do
    tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null | grep -q -- "$2" && echo "$child"
  done
  return 0
}
# docker run of a VM container under TCG (the one accelerator every machine has), removed when it
# ends. Usage: vm DOCKER_RUN_ARGS…
vm() { docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg "$@"; }

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

# A real terminal for interactive tests: tmux runs COMMAND in a WIDTHxHEIGHT pty, stopped when the
# test ends. Usage: start_terminal WIDTH HEIGHT COMMAND; then terminal_keys KEYS… (tmux send-keys),
# terminal_resize WIDTH HEIGHT, screen (what it shows), wait_for_screen TEXT WHAT [SECONDS].
start_terminal() {
  command -v tmux >/dev/null || fail "tmux is not installed (apt-get install tmux)"
  TERMINAL_SOCKET="runcvm-test-$$-$RANDOM"
  on_exit "tmux -L $TERMINAL_SOCKET kill-server 2>/dev/null"
  tmux -L "$TERMINAL_SOCKET" new-session -d -s term -x "$1" -y "$2" "$3"
}
terminal_keys() { tmux -L "$TERMINAL_SOCKET" send-keys -t term "$@"; }
terminal_resize() { tmux -L "$TERMINAL_SOCKET" resize-window -t term -x "$1" -y "$2"; }
screen() { tmux -L "$TERMINAL_SOCKET" capture-pane -p -t term; }
wait_for_screen() {
  local tenths=$(( ${3:-10} * 10 ))
  for _ in $(seq "$tenths"); do screen | grep -qF -- "$1" && return 0; sleep 0.1; done
  fail "$2: the terminal shows: $(screen | grep -v '^$')"
}
