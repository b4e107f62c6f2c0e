#!/usr/bin/env bash
# Benchmark: packing the bundle's layer (tar + compression + sha256 of both, as runcvm-build
# bundle does it) against `tar -c | gzip` and `tar -c | zstd` of the same tree (the baselines;
# they compute no digests), in the same run. usage: tests/bench/bundle.sh BUILD_DIR KERNELS_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR KERNELS_DIR}" && pwd)/bin/runcvm-build
KERNELS=${2:?usage: $0 BUILD_DIR KERNELS_DIR}
WORK=$(mktemp -d /var/tmp/runcvm-bench-bundle.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$BUILD" bundle --kernels "$KERNELS" --out "$WORK/tree" 2>/dev/null
mb=$(du -sm --apparent-size "$WORK/tree" | cut -f1)
seconds() { local start end; start=$(date +%s%N); "$@"; end=$(date +%s%N); awk -v d=$((end - start)) 'BEGIN {printf "%.2f", d / 1e9}'; }
ours() {  # compression -> seconds of the packing phase, as the command reports it
  "$BUILD" bundle --kernels "$KERNELS" --oci-layout "$WORK/oci-$1" --compression "$1" 2>&1 | sed -n 's/.*packed in \([0-9.]*\) s.*/\1/p'
}
sync
gzip_ours=$(ours gzip)
zstd_ours=$(ours zstd)
gzip_base=$(seconds sh -c "tar -C '$WORK/tree' -cf - . | gzip -6 >'$WORK/base.tar.gz'")
zstd_base=$(seconds sh -c "tar -C '$WORK/tree' -cf - . | zstd -3 -q >'$WORK/base.tar.zst'")
echo "packing the bundle's layer ($mb MB of files)"
awk -v mb="$mb" -v go="$gzip_ours" -v gb="$gzip_base" -v zo="$zstd_ours" -v zb="$zstd_base" 'BEGIN {
  printf "  gzip: runcvm-build %6.2f s (%5.1f MB/s)   tar | gzip -6 %6.2f s (%5.1f MB/s)   ratio %.2f\n", go, mb / go, gb, mb / gb, go / gb
  printf "  zstd: runcvm-build %6.2f s (%5.1f MB/s)   tar | zstd -3 %6.2f s (%5.1f MB/s)   ratio %.2f\n", zo, mb / zo, zb, mb / zb, zo / zb }'
