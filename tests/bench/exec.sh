#!/usr/bin/env bash
# Benchmark: `docker exec C true` latency into a VM container against the same into a runc
# container, in the same run (median and p90 of N execs each, after one warm-up), plus the
# throughput of one exec session (`cat` of 64 MB to /dev/null) both ways.
# Needs a dockerd with runcvm registered (bash ci/main.sh). usage: tests/bench/exec.sh [N]
set -euo pipefail
N=${1:-30}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
trap 'docker rm -f runcvm-bench-exec-runc runcvm-bench-exec-vm >/dev/null 2>&1 || true' EXIT
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian

docker run -d --name runcvm-bench-exec-runc runcvm/busybox sleep 100000 >/dev/null
docker run -d --name runcvm-bench-exec-vm --runtime=runcvm -e RUNCVM_QEMU_ACCEL="${RUNCVM_QEMU_ACCEL:-tcg}" \
  runcvm/busybox sleep 100000 >/dev/null
docker exec runcvm-bench-exec-vm true  # waits for the VM to boot

latencies() {  # container -> one line: median p90 (ms)
  local c=$1 samples=()
  docker exec "$c" true
  for _ in $(seq "$N"); do
    local start end
    start=$(date +%s%N)
    docker exec "$c" true
    end=$(date +%s%N)
    samples+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f\n", a[int((NR+1)/2)]/1000, a[int(NR*0.9)]/1000}'
}

throughput() {  # container -> MB/s of 64 MB through one exec's stdout
  local c=$1 start end
  docker exec "$c" sh -c 'head -c 67108864 /dev/zero >/tmp/bench-blob'
  start=$(date +%s%N)
  docker exec "$c" cat /tmp/bench-blob >/dev/null
  end=$(date +%s%N)
  python3 -c "print(f'{67.108864 / (($end - $start) / 1e9):.1f}')"
}

read -r runc_median runc_p90 < <(latencies runcvm-bench-exec-runc)
read -r vm_median vm_p90 < <(latencies runcvm-bench-exec-vm)
runc_mbps=$(throughput runcvm-bench-exec-runc)
vm_mbps=$(throughput runcvm-bench-exec-vm)
echo "docker exec C true, $N runs each (baseline: the same exec into a runc container)"
printf '  %-6s median %7.1f ms  p90 %7.1f ms\n' runc "$runc_median" "$runc_p90" runcvm "$vm_median" "$vm_p90"
python3 -c "print(f'  ratio runcvm/runc (median): x{$vm_median / $runc_median:.2f}')"
echo "one exec's stdout, 64 MB to /dev/null"
printf '  %-6s %7.1f MB/s\n' runc "$runc_mbps" runcvm "$vm_mbps"
python3 -c "print(f'  ratio runcvm/runc: x{$vm_mbps / $runc_mbps:.2f}')"
