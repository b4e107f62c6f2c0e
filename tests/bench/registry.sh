#!/usr/bin/env bash
# Benchmark: pushing an OCI layout to a local docker-registry with `runcvm-build push` against
# `skopeo copy` of the same layout (the baseline), each into an empty registry, in the same run;
# then pulling it back. usage: tests/bench/registry.sh BUILD_DIR OCI_LAYOUT (one image, e.g. from
# runcvm-build bundle --oci-layout)
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR OCI_LAYOUT}" && pwd)/bin/runcvm-build
LAYOUT=$(cd "${2:?usage: $0 BUILD_DIR OCI_LAYOUT}" && pwd)
WORK=$(mktemp -d /var/tmp/runcvm-bench-registry.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
registry() {  # name port
  mkdir -p "$WORK/$1"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$WORK/$1/data" "$2" >"$WORK/$1/config.yml"
  docker-registry serve "$WORK/$1/config.yml" >"$WORK/$1/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$2/v2/" && return; sleep 0.1; done
}
registry ours 15200
registry theirs 15201
tag=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["manifests"][0]; print(m.get("annotations",{}).get("org.opencontainers.image.ref.name","latest"))' "$LAYOUT/index.json")
mb=$(du -sm "$LAYOUT/blobs" | cut -f1)
seconds() {  # fails when the command does
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>"$WORK/last.err" || { echo "failed: $* $(cat "$WORK/last.err")" >&2; return 1; }
  end=$(date +%s%N)
  awk -v d=$((end - start)) 'BEGIN {printf "%.2f", d / 1e9}'
}
sync
ours=$(seconds "$BUILD" push "$LAYOUT" 127.0.0.1:15200/bench/runcvm:1)
theirs=$(seconds skopeo copy --dest-tls-verify=false "oci:$LAYOUT:$tag" docker://127.0.0.1:15201/bench/runcvm:1)
digest=$("$BUILD" push "$LAYOUT" 127.0.0.1:15200/bench/runcvm:1)
pull=$(seconds "$BUILD" pull "127.0.0.1:15200/bench/runcvm@$digest" "$WORK/pulled")
echo "pushing an OCI layout ($mb MB of blobs) to an empty local docker-registry"
awk -v o="$ours" -v t="$theirs" -v p="$pull" -v mb="$mb" 'BEGIN {
  printf "  runcvm-build push %6.2f s   skopeo copy %6.2f s   ratio %.2f\n  runcvm-build pull by digest (verified) %6.2f s (%.0f MB/s)\n", o, t, o / t, p, mb / p }'
