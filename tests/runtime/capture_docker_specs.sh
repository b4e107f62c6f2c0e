#!/usr/bin/env bash
# Regenerates the golden-test inputs tests/runtime/golden/docker-*/in.json: the config.json a real
# dockerd hands its runtime for typical `docker run` flags. Needs a running dockerd (DOCKER_HOST)
# whose daemon.json registers this script's capture runtime:
#   "runtimes": {"capture": {"path": "<dir>/capture-runtime"}}  with CAPTURE_DIR=<dir>
# usage: capture_docker_specs.sh CAPTURE_DIR IMAGE
set -euo pipefail
capture_dir=${1:?capture dir}
image=${2:?image}
golden="$(cd "$(dirname "$0")" && pwd)/golden"

cat >"$capture_dir/capture-runtime" <<SCRIPT
#!/bin/sh
# Copies the bundle's config.json aside, then behaves as runc.
bundle=""; previous=""
for argument in "\$@"; do
  [ "\$previous" = "--bundle" ] && bundle=\$argument
  previous=\$argument
done
[ -n "\$bundle" ] && cp "\$bundle/config.json" "$capture_dir/last-config.json"
exec runc "\$@"
SCRIPT
chmod +x "$capture_dir/capture-runtime"

capture() {  # case-name docker-run-flags…
  local name=$1; shift
  rm -f "$capture_dir/last-config.json"
  docker run --rm --runtime=capture "$@" "$image" true >/dev/null
  mkdir -p "$golden/docker-$name"
  python3 -m json.tool --indent 2 "$capture_dir/last-config.json" >"$golden/docker-$name/in.json"
  echo "captured docker-$name"
}
mkdir -p "$capture_dir/volume"
capture plain
capture ports -p 8080:80
capture volumes -v "$capture_dir/volume:/data" -v "$capture_dir/volume:/ro:ro" -v runcvm-golden:/disks/store
capture tmpfs --tmpfs /scratch:size=64m,mode=1777
capture user -u 1000:1000 --group-add 27 -w /tmp -e FOO=bar -e RUNCVM_KERNEL_DEBUG=1
capture init --init
capture limits --cpus 1.5 -m 1g
capture cpuset --cpuset-cpus 0-1
capture network-none --network none
capture network-host --network host
capture tty -t
docker volume rm runcvm-golden >/dev/null
