#!/usr/bin/env bash
# A host unix socket bind-mounted into the container works in the VM (Docker-outside-of-Docker:
# `-v /var/run/docker.sock:/var/run/docker.sock`, as CI runners, Portainer and Traefik use it):
# the VM has a listening socket at the same path, owned and moded like the host's, and
# runcvm-init carries its connections to the socket in the container. The Docker CLI in the VM
# lists the host's containers and runs one; many connections at once; a large transfer arrives
# intact; a user the socket's mode refuses is refused; the VM reaches no socket it was not given.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/sockets debian
SOCKET=${DOCKER_HOST#unix://}

# The Docker CLI on busybox, with the glibc it links (from this host); /var/run -> /run as on Debian.
tree="$SCRATCH/cli-image"
bash "$SOURCE_DIR/ci/busybox-image.sh" --rootfs "$tree" debian
mkdir -p "$tree/usr/bin" "$tree/lib/x86_64-linux-gnu" "$tree/lib64" "$tree/var" "$tree/run"
cp /usr/bin/docker "$tree/usr/bin/docker"
cp -L /lib/x86_64-linux-gnu/libc.so.6 "$tree/lib/x86_64-linux-gnu/"
cp -L /lib64/ld-linux-x86-64.so.2 "$tree/lib64/"
ln -s /run "$tree/var/run"
tar -C "$tree" -c . | docker import - runcvm-test/docker-cli >/dev/null

id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -v "$SOCKET:/var/run/docker.sock" \
  runcvm-test/docker-cli sleep 100000)
on_exit "docker rm -f $id >/dev/null 2>&1"
for _ in $(seq 120); do docker exec "$id" true 2>/dev/null && break; sleep 1; done
listed=$(docker exec "$id" docker ps --no-trunc --format '{{.ID}}') || fail "docker ps in the VM: $listed"
assert_contains "$listed" "$id" "docker ps in the VM"
out=$(docker exec "$id" docker run --rm runcvm-test/sockets echo from-a-sibling) || fail "docker run in the VM: $out"
[[ "$out" == from-a-sibling ]] || fail "docker run in the VM printed: $out"
mode=$(docker exec "$id" stat -c '%a %u:%g' /var/run/docker.sock)
[[ "$mode" == "$(stat -c '%a %u:%g' "$SOCKET")" ]] || fail "the VM's socket is $mode, the host's $(stat -c '%a %u:%g' "$SOCKET")"
pass "the Docker CLI in the VM lists the host's containers (itself among them) and runs one, through the bind-mounted socket ($mode)"

counts=$(docker exec "$id" sh -c 'for i in $(seq 16); do docker version --format "{{.Server.Version}}" >/tmp/v.$i 2>&1 & done
  wait; cat /tmp/v.* | sort | uniq -c')
[[ "$(awk '{print $1}' <<<"$counts")" == 16 && $(grep -c '' <<<"$counts") -eq 1 ]] ||
  fail "16 connections at once: $counts"
pass "16 connections at once all answered ($(xargs <<<"$counts"))"

docker run --name blob runcvm-test/sockets sh -c 'head -c 33554432 /dev/urandom >/blob' || fail "making the blob"
on_exit "docker rm -f blob >/dev/null 2>&1"
want=$(docker cp blob:/blob - | sha256sum | cut -d' ' -f1)
got=$(docker exec "$id" sh -c 'docker cp blob:/blob - | sha256sum' | cut -d' ' -f1)
[[ "$got" == "$want" ]] || fail "32 MiB through the relayed socket: sha256 $got, expected $want"
pass "32 MiB through the relayed socket arrive intact (sha256)"

# The socket's mode holds in the VM: a user outside its owner and group is refused.
rc=0
err=$(docker exec -u 1000:1000 "$id" docker ps 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "uid 1000 reached a socket of mode $mode"
assert_contains "$err" "permission denied" "uid 1000 on the socket"
# The VM reaches runcvm-init's relay for the one socket it was given, and no other port of its.
given=$(docker exec "$id" sh -c 'timeout 5 nc 169.254.77.1 17700 </dev/null 2>&1; true')
other=$(docker exec "$id" sh -c 'timeout 5 nc 169.254.77.1 17701 </dev/null 2>&1; true')
[[ "$given" != *refused* ]] || fail "the relay's port for the given socket refused the VM: $given"
assert_contains "$other" "refused" "a relay port with no socket behind it"
pass "a user the socket's mode excludes is refused; the VM reaches no relay it was not given"
