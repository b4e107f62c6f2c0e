#!/usr/bin/env bash
# Networking parity, end to end with a real dockerd under TCG: the VM has the container's
# interfaces (name, MAC, addresses, routes, MTU), published ports reach it, names resolve through
# Docker's embedded DNS (UDP and TCP) via runcvm-init's forwarder, VMs and runc containers reach
# each other, several networks give several interfaces, IPv6 networks give IPv6 addresses, and
# unsupported modes fail clearly.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/vm debian

VM=(--runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg)
SERVE='mkdir -p /www; echo "hello from $(hostname)" >/www/index.html; head -c 1048576 /dev/urandom >/www/blob; httpd -f -p 80 -h /www'
# Docker takes each network's subnet from its address pools, skipping any the host's routes
# overlap (a CI machine on 172.16.0.0/12 gets 192.168.x networks): expected addresses are asked
# of Docker, never assumed.
gateway_of() { docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$1"; }
mac_for() { local IFS=.; printf '02:42:%02x:%02x:%02x:%02x' $1; }  # Docker's MAC for an IPv4 address

# The default bridge: the container's address, MAC and routes in the VM, a published port.
out=$(docker run --rm "${VM[@]}" runcvm-test/vm sh -c 'ip -o -4 addr show eth0; cat /sys/class/net/eth0/address; ip route; cat /etc/resolv.conf')
gateway=$(gateway_of bridge)
address=$(sed -n 's|.*eth0 *inet \([0-9.]*\)/.*|\1|p' <<<"$out")
[[ "$address" == "${gateway%.*}".* ]] || fail "the VM's eth0 is not on the default bridge (gateway $gateway): $out"
grep -qx "$(mac_for "$address")" <<<"$out" || fail "the VM's eth0 has not the container's MAC $(mac_for "$address"): $out"
grep -q "^default via $gateway dev eth0" <<<"$out" || fail "no default route via $gateway in the VM: $out"
[[ "$out" != *169.254.77.1* ]] || fail "the default bridge must keep the host's resolvers: $out"
id=$(docker run -d "${VM[@]}" -p 18080:80 runcvm-test/vm sh -c "$SERVE")
wait_until "the published port answering" curl -sf -m 2 http://127.0.0.1:18080/
[[ "$(curl -sf http://127.0.0.1:18080/)" == "hello from ${id:0:12}" ]] || fail "curl 127.0.0.1:18080 got: $(curl -s http://127.0.0.1:18080/)"
docker rm -f "$id" >/dev/null
pass "default bridge: the VM has the container's eth0 (address, MAC, routes) and -p 18080:80 answers curl from the host"

# A user-defined network: names through Docker's embedded DNS, VM <-> VM and VM <-> runc.
docker_network runcvm-net
docker run -d "${VM[@]}" --network runcvm-net --name vm-a --hostname vm-a runcvm-test/vm sh -c "$SERVE" >/dev/null
docker run -d --network runcvm-net --name runc-c --hostname runc-c runcvm-test/vm sh -c "$SERVE" >/dev/null
wait_until "vm-a serving" docker run --rm --network runcvm-net runcvm-test/vm wget -qO- http://vm-a/
out=$(docker run --rm "${VM[@]}" --network runcvm-net runcvm-test/vm sh -c \
  'cat /etc/resolv.conf; ping -c 1 -W 5 vm-a; wget -qO- http://vm-a/; wget -qO- http://runc-c/; nslookup -type=a vm-a 2>&1 | tail -2')
assert_contains "$out" "nameserver 169.254.77.1" "the VM's resolv.conf"
assert_contains "$out" "1 packets received" "ping vm-a from a VM"
assert_contains "$out" "hello from vm-a" "wget vm-a from a VM"
assert_contains "$out" "hello from runc-c" "wget runc-c from a VM"
out=$(docker run --rm "${VM[@]}" --network runcvm-net --sysctl net.ipv4.conf.all.rp_filter=1 \
  --sysctl net.ipv4.conf.default.rp_filter=1 runcvm-test/vm nslookup vm-a 2>&1)
assert_contains "$out" "Address: $(address_on vm-a runcvm-net)" "DNS from a VM whose namespace has strict rp_filter"
out=$(docker run --rm --network runcvm-net runcvm-test/vm wget -qO- http://vm-a/)
[[ "$out" == "hello from vm-a" ]] || fail "a runc container reaching vm-a by name got: $out"
pass "user-defined network: VMs and runc containers reach each other by name (ping, TCP)"

# Names outside Docker resolve too (through the servers Docker's DNS forwards to), as in runc.
expected=$(docker run --rm --network runcvm-net runcvm-test/vm nslookup deb.debian.org 2>&1 | grep -A1 "^Name:" | tail -1) ||
  fail "this machine cannot resolve deb.debian.org from a runc container: the test needs DNS"
out=$(docker run --rm "${VM[@]}" --network runcvm-net runcvm-test/vm nslookup deb.debian.org 2>&1)
assert_contains "$out" "$expected" "nslookup deb.debian.org from a VM on a user-defined network"
pass "external names resolve in a VM on a user-defined network ($expected)"

# DNS over TCP too (busybox has no TCP resolver: a DNS query framed by hand through nc).
query=$(python3 -c 'import struct,sys; q=b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04vm-a\x00\x00\x01\x00\x01"; sys.stdout.buffer.write(struct.pack(">H",len(q))+q)' | base64 -w0)
answer=$(docker run --rm "${VM[@]}" --network runcvm-net runcvm-test/vm sh -c \
  "echo $query | base64 -d | nc -w 5 169.254.77.1 53 | od -An -tx1 | tr -d ' \n'")
[[ "$answer" == *"12348"* ]] || fail "no DNS answer over TCP: $answer"
pass "the forwarder answers DNS over TCP as well as UDP"

# A custom subnet with --ip and MTU 1400; a jumbo-frame network and 1 MB across it.
docker_network --subnet 10.77.0.0/24 -o com.docker.network.driver.mtu=1400 runcvm-net1400
out=$(docker run --rm "${VM[@]}" --network runcvm-net1400 --ip 10.77.0.50 runcvm-test/vm sh -c 'ip -o -4 addr show eth0; cat /sys/class/net/eth0/mtu')
assert_contains "$out" "inet 10.77.0.50/24" "--ip in the VM"
[[ "$(tail -1 <<<"$out")" == 1400 ]] || fail "MTU 1400 network gave the VM: $out"
docker_network -o com.docker.network.driver.mtu=9000 runcvm-net9000
docker run -d --network runcvm-net9000 --name jumbo-server runcvm-test/vm sh -c "$SERVE" >/dev/null
wait_until "jumbo-server serving" docker run --rm --network runcvm-net9000 runcvm-test/vm wget -qO- http://jumbo-server/
expected=$(docker exec jumbo-server sha256sum /www/blob | cut -c1-64)
out=$(docker run --rm "${VM[@]}" --network runcvm-net9000 runcvm-test/vm sh -c 'cat /sys/class/net/eth0/mtu; wget -qO- http://jumbo-server/blob | sha256sum')
[[ "$(head -1 <<<"$out")" == 9000 ]] || fail "MTU 9000 network gave the VM: $out"
[[ "$(tail -1 <<<"$out" | cut -c1-64)" == "$expected" ]] || fail "1 MB over MTU 9000 arrived damaged: $out"
pass "--ip on a custom subnet, MTU 1400, and MTU 9000 with 1 MB transferred intact"

# IPv6: a network created with --ipv6 gives the VM its IPv6 address (usable at once) and default
# route; the VM reaches a runc container and the network's gateway over IPv6, and is reached.
docker_network --ipv6 --subnet fd00:77::/64 runcvm-net6
docker run -d --network runcvm-net6 --name runc6 --hostname runc6 runcvm-test/vm sh -c "$SERVE" >/dev/null
docker run -d "${VM[@]}" --network runcvm-net6 --name vm6 --hostname vm6 runcvm-test/vm sh -c "$SERVE" >/dev/null
address6() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' "$1"; }
runc6=$(address6 runc6)
vm6=$(address6 vm6)
[[ "$runc6" == fd00:77::* && "$vm6" == fd00:77::* ]] || fail "Docker gave no IPv6 addresses: runc6 \"$runc6\", vm6 \"$vm6\""
wait_until "vm6 serving over IPv6" docker exec runc6 wget -qO- "http://[$vm6]/"
[[ "$(docker exec runc6 wget -qO- "http://[$vm6]/")" == "hello from vm6" ]] || fail "runc6 reaching [$vm6]"
out=$(docker exec vm6 sh -c "ip -6 addr show dev eth0; ip -6 route; ping -6 -c 1 -W 5 fd00:77::1; wget -qO- http://[$runc6]/;
  nslookup -type=aaaa runc6 2>&1 | tail -2")
assert_contains "$out" "inet6 $vm6/64 scope global" "the VM's IPv6 address"
# Docker's address is usable at once; the link-local one the VM's kernel makes may still be tentative.
[[ "$(grep "inet6 $vm6/" <<<"$out")" != *tentative* ]] ||
  fail "the VM's IPv6 address is still tentative (duplicate address detection): $out"
assert_contains "$out" "default via fd00:77::1 dev eth0" "the VM's IPv6 routes"
assert_contains "$out" "1 packets received" "ping -6 of the gateway from the VM"
assert_contains "$out" "hello from runc6" "wget over IPv6 from the VM"
assert_contains "$out" "Address: $runc6" "an AAAA lookup of runc6 from the VM"
docker rm -f vm6 runc6 >/dev/null
pass "--ipv6 network: the VM has its IPv6 address $vm6 and default route, reaches the gateway and a runc container, and is reached"

# Two networks connected before start: two interfaces, both with their addresses.
docker create "${VM[@]}" --name multi --network runcvm-net runcvm-test/vm sh -c 'ip -o -4 addr | grep -v " lo "' >/dev/null
docker network connect runcvm-net1400 multi
out=$(docker start -a multi)
assert_contains "$out" "eth0    inet $(gateway_of runcvm-net | cut -d. -f1-3)." "first network"
assert_contains "$out" "eth1    inet 10.77.0." "second network"
pass "docker network connect before start gives the VM a second interface"

# --hostname and --add-host; --network none; unsupported modes fail with one clear line.
out=$(docker run --rm "${VM[@]}" --hostname vmhost --add-host extra.example:10.1.2.3 runcvm-test/vm sh -c 'hostname; grep extra.example /etc/hosts')
[[ "$out" == $'vmhost\n10.1.2.3\textra.example' ]] || fail "--hostname/--add-host: $out"
out=$(docker run --rm "${VM[@]}" --network none runcvm-test/vm sh -c 'ls /sys/class/net | tr "\n" " "')
[[ "$out" == "lo " ]] || fail "--network none gave the VM: $out"
err=$(docker run --rm "${VM[@]}" --network host runcvm-test/vm true 2>&1) && fail "--network host succeeded"
assert_contains "$err" "--network host is not supported" "docker run --network host"
docker run -d --name peer runcvm-test/vm sleep 100 >/dev/null
err=$(docker run --rm "${VM[@]}" --network container:peer runcvm-test/vm true 2>&1) && fail "--network container: succeeded"
assert_contains "$err" "--network container:… is not supported" "docker run --network container:"
pass "--hostname, --add-host and --network none work; --network host and container: fail clearly"
