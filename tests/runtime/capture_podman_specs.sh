#!/usr/bin/env bash
# Regenerates the golden-test inputs tests/runtime/golden/podman-*/in.json: the config.json a real
# podman (Debian's 4.3, conmon, CNI networks) hands its runtime for typical `podman run` flags.
# The capture runtime copies the spec aside and then runs runc. PODMAN may add podman's global
# options (a private --root and --runroot); the host's rlimits may have to be lowered in
# containers.conf (podman asks for 1048576 open files and processes, more than some hosts allow).
# usage: capture_podman_specs.sh CAPTURE_DIR IMAGE
set -euo pipefail
capture_dir=${1:?capture dir}
image=${2:?image}
read -ra podman <<<"${PODMAN:-podman}"
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

capture() {  # case-name podman-run-flags…
  local name=$1; shift
  rm -f "$capture_dir/last-config.json"
  "${podman[@]}" run --rm --runtime "$capture_dir/capture-runtime" "$@" "$image" true >/dev/null
  mkdir -p "$golden/podman-$name"
  python3 -m json.tool --indent 2 "$capture_dir/last-config.json" >"$golden/podman-$name/in.json"
  echo "captured podman-$name"
}
mkdir -p "$capture_dir/volume"
"${podman[@]}" network create runcvm-golden >/dev/null
capture plain
capture ports -p 8080:80
capture network --network runcvm-golden
capture volumes -v "$capture_dir/volume:/data" -v "$capture_dir/volume:/ro:ro"
capture limits --cpus 1.5 -m 1g
capture tty -t
"${podman[@]}" network rm runcvm-golden >/dev/null
