#!/usr/bin/env bash
# Docker in the VM, without --privileged on the host: an image with Debian's docker.io (made with
# mmdebstrap from deb.debian.org, kept in the test cache), `docker run --runtime=runcvm --cap-add
# ALL` with /var/lib/docker on an ext4 RUNCVM_DISKS disk. dockerd starts in the VM (overlay2,
# cgroup v2, iptables over nf_tables, bridge and veth: modules from the bundle kernel's tree), runs
# a container from an image imported there (exit code back), and a port published inside answers
# the host through the VM's own published port. The capabilities given hold in the VM only: the
# container on the host keeps its helpers' set (no SYS_MODULE). Then a one-node swarm serves a
# replicated service through its ingress (ip_vs, overlay). Heavy (minutes): bash ci/test.sh --heavy.
source "$(dirname "$0")/lib.sh"
command -v mmdebstrap >/dev/null || fail "mmdebstrap is needed (apt-get install mmdebstrap)"

start_dockerd_with_runcvm
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
PACKAGES=docker.io,iptables,kmod,iproute2,procps,curl
IMAGE_TAR="$TEST_CACHE/images/bookworm-$(sha256sum <<<"$PACKAGES" | cut -c1-12).tar"
if [[ ! -f $IMAGE_TAR ]]; then
  mkdir -p "$(dirname "$IMAGE_TAR")"
  # mmdebstrap picks its output's format by the name's ending.
  mmdebstrap --variant=apt --include="$PACKAGES" bookworm "${IMAGE_TAR%.tar}.partial.tar" http://deb.debian.org/debian \
    >"$SCRATCH/mmdebstrap.log" 2>&1 || fail "mmdebstrap: $(tail -3 "$SCRATCH/mmdebstrap.log")"
  mv "${IMAGE_TAR%.tar}.partial.tar" "$IMAGE_TAR"
fi
docker import "$IMAGE_TAR" runcvm-test/docker >/dev/null
# The image dockerd in the VM runs: busybox, as a tar it imports (no registry is reachable).
bash "$SOURCE_DIR/ci/busybox-image.sh" --rootfs "$SCRATCH/inner" debian >/dev/null
mkdir -p "$SCRATCH/share" "$SCRATCH/disks"
tar -C "$SCRATCH/inner" -cf "$SCRATCH/share/inner.tar" .
on_exit 'docker rm -f dind >/dev/null 2>&1'

start=$(date +%s%N)
docker run -d --name dind --runtime=runcvm -m 2g --cap-add ALL -e RUNCVM_QEMU_ACCEL=tcg \
  -e RUNCVM_DISKS=/disks/docker,/var/lib/docker,ext4,4G -v "$SCRATCH/disks:/disks" -v "$SCRATCH/share:/share:ro" \
  -p 18085:8080 -p 18086:8090 runcvm-test/docker dockerd >/dev/null
for _ in $(seq 300); do docker exec dind docker info >/dev/null 2>&1 && break; sleep 1; done
docker exec dind docker info >/dev/null 2>&1 || fail "dockerd in the VM never answered: $(docker logs dind 2>&1 | tail -5)"
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
driver=$(docker exec dind docker info -f '{{.Driver}} {{.CgroupVersion}}')
[[ $driver == "overlay2 2" ]] || fail "dockerd in the VM: storage driver and cgroup version \"$driver\", expected overlay2 on cgroup v2"
pass "dockerd in the VM ready in $ready_ms ms (overlay2 on the ext4 disk, cgroup v2)"

# Capabilities: everything in the VM, the helpers' set on the host.
vm_caps=$(docker exec dind sh -c 'grep CapEff /proc/self/status' | awk '{print $2}')
(( (16#$vm_caps >> 16) & 1 )) || fail "the workload in the VM lacks CAP_SYS_MODULE (CapEff $vm_caps) despite --cap-add ALL"
host_caps=$(awk '/^CapBnd/ {print $2}' "/proc/$(docker inspect -f '{{.State.Pid}}' dind)/status")
(( (16#$host_caps >> 16) & 1 )) && fail "the container on the host got CAP_SYS_MODULE (CapBnd $host_caps): --cap-add ALL must hold in the VM only"
(( (16#$host_caps >> 17) & 1 )) && fail "the container on the host got CAP_SYS_RAWIO (CapBnd $host_caps)"
pass "--cap-add ALL: the VM's workload has every capability ($vm_caps), the container on the host not SYS_MODULE or SYS_RAWIO ($host_caps)"

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

start=$(date +%s%N)
docker exec dind docker swarm init >/dev/null || fail "docker swarm init in the VM failed"
# (It warns on stderr that no registry records the image's digest: there is one node.)
docker exec dind docker service create -q --name svc --replicas 2 -p 8090:80 inner sh -c "$SERVE" inner-svc >/dev/null 2>&1 ||
  fail "docker service create in the VM failed: $(docker exec dind docker service ps svc --no-trunc 2>&1 | tail -3)"
for _ in $(seq 120); do curl -sf -m 2 http://127.0.0.1:18086/ >/dev/null && break; sleep 1; done
out=$(curl -sf -m 5 http://127.0.0.1:18086/) ||
  fail "the swarm service's ingress port did not answer: $(docker exec dind docker service ps svc --no-trunc 2>&1 | tail -3)"
[[ $out == "hello from inner-svc" ]] || fail "the swarm service answered \"$out\""
replicas=$(docker exec dind docker service ls -f name=svc --format '{{.Replicas}}')
[[ $replicas == 2/2 ]] || fail "the swarm service has $replicas replicas running, expected 2/2"
pass "a swarm in the VM: a service of 2 replicas answers through the ingress (ip_vs, overlay) in $(( ($(date +%s%N) - start) / 1000000 )) ms"

start=$(date +%s)
docker stop -t 60 dind >/dev/null
rc=$(docker inspect -f '{{.State.ExitCode}}' dind)
[[ $rc -eq 0 ]] || fail "docker stop: dockerd in the VM exited $rc, expected a clean 0"
pass "docker stop: dockerd in the VM shut down cleanly in $(( $(date +%s) - start )) s"
