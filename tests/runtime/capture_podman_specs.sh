#!/usr/bin/env bash
# Regenerates the golden-test inputs tests/runtime/golden/podman-*/in.json: the config.json a real
# podman (Debian's 4.3, conmon, CNI networks) hands its runtime for typical `podman run` flags.
# The capture runtime copies the spec aside and then runs runc. PODMAN may add podman's global
# options (a private --root and --runroot); the host's rlimits may have to be lowered in
# containers.conf (podman asks for 1048576 open files and processes, more than some hosts allow).
# usage: capture_podman_specs.sh CAPTURE_DIR IMAGE
set -euo pipefail
CAPTURE_DIR=${1:?capture dir}
image=${2:?image}
read -ra podman <<<"${PODMAN:-podman}"
source "$(dirname "$0")/capture_lib.sh"
write_capture_runtime
capture() {  # case-name podman-run-flags…
  local name=$1; shift
  capture_spec "podman-$name" "${podman[@]}" run --rm --runtime "$CAPTURE_DIR/capture-runtime" "$@" "$image" true
}
mkdir -p "$CAPTURE_DIR/volume"
"${podman[@]}" network create runcvm-golden >/dev/null
capture plain
capture ports -p 8080:80
capture network --network runcvm-golden
capture volumes -v "$CAPTURE_DIR/volume:/data" -v "$CAPTURE_DIR/volume:/ro:ro"
capture limits --cpus 1.5 -m 1g
capture tty -t
"${podman[@]}" network rm runcvm-golden >/dev/null
