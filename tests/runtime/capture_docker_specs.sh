#!/usr/bin/env bash
# Regenerates the golden-test inputs tests/runtime/golden/docker-*/in.json: the config.json a real
# dockerd hands its runtime for typical `docker run` flags. Needs a running dockerd (DOCKER_HOST)
# whose daemon.json registers this script's capture runtime:
#   "runtimes": {"capture": {"path": "<dir>/capture-runtime"}}  with CAPTURE_DIR=<dir>
# usage: capture_docker_specs.sh CAPTURE_DIR IMAGE
set -euo pipefail
CAPTURE_DIR=${1:?capture dir}
image=${2:?image}
source "$(dirname "$0")/capture_lib.sh"
write_capture_runtime
capture() {  # case-name docker-run-flags…
  local name=$1; shift
  capture_spec "docker-$name" docker run --rm --runtime=capture "$@" "$image" true
}
mkdir -p "$CAPTURE_DIR/volume"
capture plain
capture ports -p 8080:80
capture volumes -v "$CAPTURE_DIR/volume:/data" -v "$CAPTURE_DIR/volume:/ro:ro" -v runcvm-golden:/disks/store
capture tmpfs --tmpfs /scratch:size=64m,mode=1777
capture user -u 1000:1000 --group-add 27 -w /tmp -e FOO=bar -e RUNCVM_KERNEL_DEBUG=1
capture init --init
capture limits --cpus 1.5 -m 1g
capture cpuset --cpuset-cpus 0-1
capture network-none --network none
capture network-host --network host
capture tty -t
docker volume rm runcvm-golden >/dev/null
