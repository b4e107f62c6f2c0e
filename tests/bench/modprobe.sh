#!/usr/bin/env bash
# Benchmark: one module request in the VM under TCG, runcvm-modprobe (what the VM's kernel now
# runs) against kmod's modprobe (the image's, the baseline) in the same VM: a module already
# loaded (dummy), an alias to resolve and load with its dependencies (rtnl-link-vxlan, first
# request only), and a name the kernel does not have. Medians of RUNS; not a timed test.
# usage: tests/bench/modprobe.sh IMAGE [RUNS]   (a dockerd with runcvm registered; IMAGE has bash and kmod,
# e.g. the heavy tests' runcvm-test/docker)
set -euo pipefail
IMAGE=${1:?usage: $0 IMAGE [RUNS]}
RUNS=${2:-5}
id=$(docker run -d --runtime=runcvm --cap-add SYS_MODULE -e RUNCVM_QEMU_ACCEL=tcg "$IMAGE" sleep 3600)
trap 'docker rm -f "$id" >/dev/null' EXIT
for _ in $(seq 120); do docker exec "$id" true 2>/dev/null && break; sleep 1; done
docker exec "$id" bash -c '
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000000 )); }
median() { tr " " "\n" | sort -n | awk "{a[NR]=\$1} END {print a[int((NR+1)/2)]}"; }
ours=/opt/runcvm/bin/runcvm-modprobe
printf "%-34s %10s %10s %7s\n" request kmod runcvm ratio
for name in dummy rtnl-link-vxlan runcvm-no-such-module; do
  k="" r=""
  for i in $(seq '"$RUNS"'); do k="$k $(ms modprobe -q "$name")"; r="$r $(ms $ours -q "$name")"; done
  km=$(echo $k | median) rm=$(echo $r | median)
  printf "%-34s %8s ms %8s ms %7s\n" "$name" "$km" "$rm" "$(awk "BEGIN {printf \"%.2f\", $rm / $km}")"
done'
