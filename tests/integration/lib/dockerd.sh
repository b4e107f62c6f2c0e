# Private dockerds for the runtime's tests: the distribution's, and Debian trixie's Docker 26 in a
# root of its own; their networks, and the dev bundle registered as the runcvm runtime.

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
  retry_for 30 docker version || fail "dockerd did not start: $(tail -5 "$root/dockerd.log")"
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

# Registers a runtime in a daemon.json (ci/register-runtime.sh). Usage: register_runtime FILE NAME PATH [ARG…]
register_runtime() { bash "$SOURCE_DIR/ci/register-runtime.sh" "$@"; }
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
    printf '{%s}\n' "${1:-}" >"$SCRATCH/daemon.json"
    register_runtime "$SCRATCH/daemon.json" runcvm "$BUNDLE/bin/runcvm-runtime"
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
  printf '{%s}\n' "${1:-}" >"$root/etc/docker/daemon.json"
  register_runtime "$root/etc/docker/daemon.json" runcvm /opt/runcvm/bin/runcvm-runtime
  # The root has no mount programs: the old root goes with the host's static busybox.
  unshare --mount --propagation private -- sh -c '
    mount -t tmpfs tmpfs "$1/run" && mkdir "$1/run/runcvm" && mount --bind /run/runcvm "$1/run/runcvm" &&
      cd "$1" && pivot_root . .old-root && /.old-root/bin/busybox umount -l /.old-root &&
      exec dockerd -H unix:///sock/docker.sock --pidfile /sock/docker.pid' sh "$root" >"$SCRATCH/dockerd26.log" 2>&1 &
  on_exit stop_trixie_dockerd
  export DOCKER_HOST="unix://$root/sock/docker.sock"
  retry_for 30 docker version || fail "trixie's dockerd did not start: $(tail -5 "$SCRATCH/dockerd26.log")"
}
d26() { chroot "$TRIXIE_ROOT" docker -H unix:///sock/docker.sock "$@"; }
stop_trixie_dockerd() {
  local pid
  pid=$(cat "$TRIXIE_ROOT/sock/docker.pid" 2>/dev/null) || return 0
  # The containerd it started, by parent: its pid file is in the namespace's own /run.
  stop_dockerd "$pid" "$(pgrep -P "$pid" -x containerd)"
}
