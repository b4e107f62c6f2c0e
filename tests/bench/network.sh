#!/usr/bin/env bash
# Benchmark: the network of a VM container against a runc container on the same (default bridge)
# network, in the same run, measured from the host: TCP throughput container -> host (100 MB
# through busybox nc into a sink on the docker0 address) and RTT (host pings the container).
# Needs a dockerd with runcvm registered (bash ci/main.sh) and busybox-static (its ping). usage: tests/bench/network.sh [MB]
set -euo pipefail
MB=${1:-100}
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/runcvm-bench-net.XXXXXX)
SINK_PID=""
trap '[[ -n "$SINK_PID" ]] && kill "$SINK_PID"; docker rm -f runcvm-bench-ping >/dev/null 2>&1; rm -rf "$WORK"' EXIT
docker image inspect runcvm/busybox >/dev/null 2>&1 || bash "$SOURCE_DIR/ci/busybox-image.sh" runcvm/busybox debian
GATEWAY=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')

# A sink on the host: for each connection, bytes received and seconds from first byte to end.
python3 - "$GATEWAY" "$WORK/sink.log" <<'PY' &
import socket, sys, time
server = socket.create_server((sys.argv[1], 5201))
while True:
    conn, _ = server.accept()
    total, start = 0, None
    while chunk := conn.recv(1 << 20):
        start = start or time.monotonic()
        total += len(chunk)
    with open(sys.argv[2], "a") as log:
        log.write(f"{total} {time.monotonic() - start:.3f}\n")
    conn.close()
PY
SINK_PID=$!
touch "$WORK/sink.log"
sleep 0.5

measure() {  # label, docker run options…
  local label=$1; shift
  local before
  before=$(wc -l <"$WORK/sink.log" 2>/dev/null || echo 0)
  docker run --rm "$@" runcvm/busybox sh -c "dd if=/dev/zero bs=65536 count=$((MB * 16)) 2>/dev/null | nc $GATEWAY 5201"
  for _ in $(seq 50); do [[ $(wc -l <"$WORK/sink.log") -gt $before ]] && break; sleep 0.1; done
  read -r bytes seconds < <(tail -1 "$WORK/sink.log")
  docker run -d --name runcvm-bench-ping "$@" runcvm/busybox sleep 3600 >/dev/null
  local ip
  ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' runcvm-bench-ping)
  for _ in $(seq 300); do busybox ping -c 1 -W 1 "$ip" >/dev/null 2>&1 && break; sleep 0.2; done
  local rtt
  # "round-trip min/avg/max = 0.098/0.148/0.201 ms": the average.
  rtt=$(busybox ping -c 20 -q "$ip" | sed -n 's#.*= [0-9.]*/\([0-9.]*\)/.*#\1#p')
  docker rm -f runcvm-bench-ping >/dev/null
  local mbps
  mbps=$(python3 -c "print(f'{$bytes / $seconds / 1e6:.1f}')")
  echo "$label $mbps $rtt"
}

runc=$(measure runc)
vm=$(measure runcvm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg)
read -r _ runc_mbps runc_rtt <<<"$runc"
read -r _ vm_mbps vm_rtt <<<"$vm"
echo "TCP container -> host, ${MB} MB:  runc ${runc_mbps} MB/s   runcvm (TCG) ${vm_mbps} MB/s   (x$(python3 -c "print(f'{$vm_mbps / $runc_mbps:.3f}')") of runc)"
echo "RTT host -> container (ping):   runc ${runc_rtt} ms    runcvm (TCG) ${vm_rtt} ms   (x$(python3 -c "print(f'{$vm_rtt / $runc_rtt:.1f}')") of runc)"
