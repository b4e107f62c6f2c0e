#!/usr/bin/env bash
# The main job, and the development install: install dependencies, build, assemble the bundle in
# /opt/runcvm with runcvm-build (ci/dev-bundle.sh: our programs, this machine's QEMU and virtiofsd
# with their libraries, the Debian kernel), register the runcvm runtime in /etc/docker/daemon.json,
# (re)start the local dockerd, and run a first command in a VM. Leaves dockerd running, with
# runcvm installed:  docker run --rm --runtime=runcvm runcvm/busybox uname -a
set -euo pipefail
cd "$(dirname "$0")/.."
# The bundle's paths, read from their one home.
layout_path() {
  local value
  value=$(sed -n "s/.*$1 = \"\(.*\)\";\$/\1/p" handoff/bundle_layout.hpp)
  [[ -n "$value" ]] || { echo "ci/main.sh: $1 not found in handoff/bundle_layout.hpp" >&2; exit 1; }
  echo "$value"
}
bundle=${RUNCVM_BUNDLE:-$(layout_path kBundleMountPoint)}
runtime=$(layout_path kBundleRuntime)

bash ci/install-deps.sh
bash ci/build.sh build
bash ci/dev-bundle.sh build "$bundle"

mkdir -p /etc/docker
bash ci/register-runtime.sh /etc/docker/daemon.json runcvm "$bundle/$runtime"
echo "registered runcvm in /etc/docker/daemon.json"

# dockerd reads daemon.json when it starts: restart it (systemd when it runs the machine).
if [[ -d /run/systemd/system ]]; then
  systemctl restart docker
else
  if [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    kill "$(cat /var/run/docker.pid)"
    for _ in $(seq 100); do kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null || break; sleep 0.2; done
  fi
  setsid dockerd >/var/log/runcvm-dockerd.log 2>&1 </dev/null &
fi
for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null || { echo "dockerd did not start: see /var/log/runcvm-dockerd.log" >&2; exit 1; }

docker image inspect runcvm/busybox >/dev/null 2>&1 || bash ci/busybox-image.sh runcvm/busybox debian
echo "== docker run --rm --runtime=runcvm runcvm/busybox uname -a   (host kernel: $(uname -r))"
# runcvm-init itself falls back to TCG (with one line) where /dev/kvm exists but cannot boot the VM.
docker run --rm --runtime=runcvm runcvm/busybox uname -a
