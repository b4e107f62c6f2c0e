#!/usr/bin/env bash
# Docker in the VM, without --privileged on the host: an image with Debian's docker.io (made with
# mmdebstrap from deb.debian.org, kept in the test cache), `docker run --runtime=runcvm` with no
# capability flag (RunCVM's own demo: the VM's workload holds every capability by default) and
# /var/lib/docker on an ext4 RUNCVM_DISKS disk. dockerd starts in the VM (overlay2,
# cgroup v2, iptables over nf_tables, bridge and veth: modules from the bundle kernel's tree), runs
# a container from an image imported there (exit code back), and a port published inside answers
# the host through the VM's own published port. Those capabilities hold in the VM only: the
# container on the host keeps its helpers' set (no SYS_MODULE). Then a second such VM joins the
# first in a swarm over a user-defined network (the seed project's own test, with two nodes;
# RUNCVM_TEST_SWARM_NODES=3 for its three): a service with a replica on each node answers through
# the ingress (ip_vs, vxlan overlay) of every node.
# Heavy (minutes): bash ci/test.sh --heavy.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
import_mmdebstrap_image runcvm-test/docker docker.io,iptables,kmod,iproute2,procps,curl
# The image dockerd in the VM runs: busybox, as a tar it imports (no registry is reachable).
bash "$SOURCE_DIR/ci/busybox-image.sh" --rootfs "$SCRATCH/inner" debian >/dev/null
mkdir -p "$SCRATCH/share" "$SCRATCH/disks"
tar -C "$SCRATCH/inner" -cf "$SCRATCH/share/inner.tar" .
NETWORK=runcvm-swarm-net
docker_network "$NETWORK"
start_node() {  # name, docker run options…: a VM running dockerd, its /var/lib/docker on a disk of its own
  local name=$1; shift
  docker run -d --name "$name" --hostname "$name" --runtime=runcvm -m 2g -e RUNCVM_QEMU_ACCEL=tcg \
    --network "$NETWORK" -e RUNCVM_DISKS="/disks/$name,/var/lib/docker,ext4,4G" -v "$SCRATCH/disks:/disks" \
    -v "$SCRATCH/share:/share:ro" "$@" runcvm-test/docker dockerd >/dev/null
}
wait_dockerd() {
  for _ in $(seq 300); do docker exec "$1" docker info >/dev/null 2>&1 && return 0; sleep 1; done
  fail "dockerd in the VM $1 never answered: $(docker logs "$1" 2>&1 | tail -5)"
}

start=$(date +%s%N)
start_node dind -p 18085:8080 -p 18086:8090
wait_dockerd dind
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
driver=$(docker exec dind docker info -f '{{.Driver}} {{.CgroupVersion}}')
[[ $driver == "overlay2 2" ]] || fail "dockerd in the VM: storage driver and cgroup version \"$driver\", expected overlay2 on cgroup v2"
pass "dockerd in the VM ready in $ready_ms ms (overlay2 on the ext4 disk, cgroup v2)"

# Capabilities: everything in the VM, the helpers' set on the host.
vm_caps=$(docker exec dind sh -c 'grep CapEff /proc/self/status' | awk '{print $2}')
(( (16#$vm_caps >> 16) & 1 )) || fail "the workload in the VM lacks CAP_SYS_MODULE (CapEff $vm_caps) with no capability flag"
host_caps=$(awk '/^CapBnd/ {print $2}' "/proc/$(docker inspect -f '{{.State.Pid}}' dind)/status")
(( (16#$host_caps >> 16) & 1 )) && fail "the container on the host got CAP_SYS_MODULE (CapBnd $host_caps): the VM's capabilities must hold in the VM only"
(( (16#$host_caps >> 17) & 1 )) && fail "the container on the host got CAP_SYS_RAWIO (CapBnd $host_caps)"
pass "no capability flag: the VM's workload has every capability ($vm_caps), the container on the host not SYS_MODULE or SYS_RAWIO ($host_caps)"

rc=0
out=$(docker exec dind sh -c 'docker import /share/inner.tar inner >/dev/null && docker run --rm inner sh -c "uname -r; exit 3"') || rc=$?
[[ $rc -eq 3 && $out == "$KERNEL" ]] || fail "docker run inside the VM: exit $rc, output \"$out\" (expected 3 and the guest kernel $KERNEL)"
SERVE='mkdir -p /www && echo "hello from $0" >/www/index.html && exec httpd -f -p 80 -h /www'
docker exec dind docker run -d -p 8080:80 --name web inner sh -c "$SERVE" inner-web >/dev/null ||
  fail "docker run -d -p 8080:80 inside the VM failed"
for _ in $(seq 60); do curl -sf -m 2 http://127.0.0.1:18085/ >/dev/null && break; sleep 1; done
out=$(curl -sf -m 5 http://127.0.0.1:18085/) || fail "the port published inside the VM did not answer through -p 18085:8080"
[[ $out == "hello from inner-web" ]] || fail "through two published ports: \"$out\""
pass "a container of the VM's dockerd: exit code 3 back, and its port published in the VM answers the host through the VM's (host :18085 → VM :8080 → container :80)"

# More nodes, started while the first works on: two in the suite, RUNCVM_TEST_SWARM_NODES=3 for the
# seed project's three (by hand: about 6 GiB of guest RAM). Node i publishes the service on 18085+i.
NODES=(dind)
for i in $(seq 2 "${RUNCVM_TEST_SWARM_NODES:-2}"); do
  start_node "dind$i" -p "$((18085 + i)):8090"
  NODES+=("dind$i")
done
for node in "${NODES[@]:1}"; do
  wait_dockerd "$node"
  docker exec "$node" docker import /share/inner.tar inner >/dev/null
done
start=$(date +%s%N)
address=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" dind)
docker exec dind docker swarm init --advertise-addr "$address" >/dev/null || fail "docker swarm init in the VM failed"
token=$(docker exec dind docker swarm join-token -q worker)
for node in "${NODES[@]:1}"; do
  docker exec "$node" docker swarm join --token "$token" "$address:2377" >/dev/null ||
    fail "the VM $node could not join the swarm at $address:2377"
done
expected_nodes=$(for node in "${NODES[@]}"; do echo "$node Ready"; done | sort | tr '\n' ' ')
nodes=$(docker exec dind docker node ls --format '{{.Hostname}} {{.Status}}' | sort | tr '\n' ' ')
[[ $nodes == "$expected_nodes" ]] || fail "the swarm's nodes: $nodes (expected $expected_nodes)"
# (It warns on stderr that no registry records the image's digest: each node imported it.)
# Each replica answers with its own container's hostname.
docker exec dind docker service create -q --name svc --replicas "${#NODES[@]}" --replicas-max-per-node 1 -p 8090:80 \
  inner sh -c 'mkdir -p /www && echo "replica $(hostname)" >/www/index.html && exec httpd -f -p 80 -h /www' >/dev/null 2>&1 ||
  fail "docker service create in the VM failed: $(docker exec dind docker service ps svc --no-trunc 2>&1 | tail -3)"
# Under TCG a replica takes minutes to start (its network's prestart hooks run iptables in the
# emulated VM while the other nodes' do the same): wait for all to run, then for the ingress.
replicas() { docker exec dind docker service ps svc -f desired-state=running --format '{{.Node}} {{.CurrentState}}' | awk '{print $1, $2}' | sort | tr '\n' ' '; }
expected_replicas=$(for node in "${NODES[@]}"; do echo "$node Running"; done | sort | tr '\n' ' ')
for _ in $(seq 400); do [[ $(replicas) == "$expected_replicas" ]] && break; sleep 1; done
placed=$(replicas)
[[ $placed == "$expected_replicas" ]] ||
  fail "the service's replicas are not running one on each node after 400 s: $placed $(docker exec dind docker service ps svc --no-trunc 2>&1)"
running_ms=$(( ($(date +%s%N) - start) / 1000000 ))
for i in $(seq "${#NODES[@]}"); do
  port=$((18085 + i))
  for _ in $(seq 120); do curl -sf -m 2 "http://127.0.0.1:$port/" >/dev/null && break; sleep 1; done
  out=$(curl -sf -m 5 "http://127.0.0.1:$port/") ||
    fail "the swarm's ingress did not answer on host port $port: $(docker exec dind docker service ps svc --no-trunc 2>&1; docker logs dind 2>&1 | grep -iE 'level=(error|warn)' | tail -8)"
  [[ $out == "replica "* ]] || fail "the swarm service answered \"$out\" on host port $port"
done
# Requests through one node's ingress are spread over every replica, the other nodes' reached
# through the vxlan overlay: all answer.
seen=$(for _ in $(seq $((10 * ${#NODES[@]}))); do docker exec dind2 curl -s -m 5 http://127.0.0.1:8090/; done | sort -u | wc -l)
[[ $seen -eq ${#NODES[@]} ]] || fail "requests through the second node's ingress reached $seen replicas, expected ${#NODES[@]}"
pass "a swarm of ${#NODES[@]} VMs: a service with a replica on each answers through every node's ingress (ip_vs, vxlan overlay) in $(( ($(date +%s%N) - start) / 1000000 )) ms from swarm init (all replicas running at $running_ms ms)"

start=$(date +%s)
docker stop -t 60 dind >/dev/null
rc=$(docker inspect -f '{{.State.ExitCode}}' dind)
[[ $rc -eq 0 ]] || fail "docker stop: dockerd in the VM exited $rc, expected a clean 0"
docker rm -f "${NODES[@]:1}" >/dev/null
pass "docker stop: dockerd in the VM shut down cleanly in $(( $(date +%s) - start )) s"
