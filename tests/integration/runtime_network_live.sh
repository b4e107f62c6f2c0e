#!/usr/bin/env bash
# Live network changes, end to end with a real dockerd under TCG: `docker network connect` on a
# running VM hot-plugs a virtio-net card (QMP) that the VM names, addresses and routes as the
# container's new interface, with names through Docker's DNS; `docker network disconnect` takes
# it away again (the card is unplugged), and connecting again reuses its slot. Disconnecting a
# network the VM booted with leaves its card without addresses.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/vm debian
in_vm() { docker exec live-vm sh -c "$1"; }
# What the VM and its container hold when a wait fails (wait_until calls it).
wait_report() {
  echo "VM links: $(docker exec live-vm ip -o link 2>&1)"
  echo "container links: $(nsenter -t "${init:-0}" -n ip -o link 2>&1)"
  echo "container addresses: $(nsenter -t "${init:-0}" -n ip -o addr 2>&1)"
  echo "runcvm-init's log: $(tail -5 "/proc/${init:-0}/root/.runcvm/runcvm-init.log" 2>&1)"
}

VM=(--runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg)
SERVE='mkdir -p /www; echo "hello from $(hostname)" >/www/index.html; httpd -f -p 80 -h /www'
docker_network runcvm-live
docker run -d --network runcvm-live --name live-peer --hostname live-peer runcvm-test/vm sh -c "$SERVE" >/dev/null
peer=$(address_on live-peer runcvm-live)

# A VM on Docker's default bridge only: its resolv.conf has the host's servers, no forwarder.
docker run -d "${VM[@]}" --name live-vm runcvm-test/vm sleep 900 >/dev/null
init=$(docker inspect -f '{{.State.Pid}}' live-vm)
wait_until "the VM running" docker exec live-vm true
[[ "$(in_vm 'ls /sys/class/net | tr "\n" " "')" == "eth0 lo " ]] || fail "the VM did not start with eth0 alone"
! in_vm "ping -c 1 -W 2 $peer" >/dev/null 2>&1 || fail "the VM reached $peer before it was connected to runcvm-live"

started=$(date +%s%N)
docker network connect runcvm-live live-vm
vm=$(address_on live-vm runcvm-live)
wait_until "eth1 with $vm in the VM" in_vm "ip -o -4 addr show eth1 | grep -q 'inet $vm/'"
connect_ms=$((($(date +%s%N) - started) / 1000000))
out=$(in_vm "cat /sys/class/net/eth1/address; ping -c 1 -W 5 $peer; wget -qO- http://$peer/; wget -qO- http://live-peer/; cat /etc/resolv.conf")
grep -qx "$(docker inspect -f '{{(index .NetworkSettings.Networks "runcvm-live").MacAddress}}' live-vm)" <<<"$out" ||
  fail "eth1 in the VM has not the container's MAC: $out"
assert_contains "$out" "1 packets received" "ping of a runc container on the connected network"
assert_contains "$out" "hello from live-peer" "wget of a runc container on the connected network"
assert_contains "$out" "nameserver 169.254.77.1" "the VM's resolv.conf once a user-defined network is connected"
[[ $(grep -c "hello from live-peer" <<<"$out") == 2 ]] || fail "live-peer by name from the VM: $out"
in_vm "ping -c 1 -W 5 $peer" >/dev/null || fail "ping $peer from the VM"
docker exec live-peer ping -c 1 -W 5 "$vm" >/dev/null || fail "a runc container cannot ping the VM's new address $vm"
pass "docker network connect on a running VM: eth1 ($vm) hot-plugged in $connect_ms ms, its peers reached by address and name, and it reached"

# Idle, the container's side sleeps: the network watcher and the DNS forwarder (running now) wait
# for events, not on timers (they woke every 5 s and every 100 ms: 160 times in 16 s). The bridge's
# ports still send a link notification now and then, which the watcher reads.
wakes() { cat /proc/"$init"/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}'; }
sleep 2
before=$(wakes)
sleep 16
woke=$(($(wakes) - before))
((woke <= 6)) || fail "runcvm-init's threads woke $woke times in 16 s while the VM idled"
pass "idle, runcvm-init's threads woke $woke times in 16 s"

started=$(date +%s%N)
docker network disconnect runcvm-live live-vm
wait_until "eth1 gone from the VM" in_vm '! test -e /sys/class/net/eth1'
disconnect_ms=$((($(date +%s%N) - started) / 1000000))
! in_vm "ping -c 1 -W 2 $peer" >/dev/null 2>&1 || fail "the VM still reaches $peer after docker network disconnect"
wait_until "the disconnected network's bridge gone from the container" sh -c "! nsenter -t $init -n ip -o link | grep -q runcvm-br1"
pass "docker network disconnect: the card leaves the VM in $disconnect_ms ms, and its bridge the container"

# Again: the slot the first card left is free. Docker names the interface anew (eth2); the VM follows.
docker network connect runcvm-live live-vm
vm=$(address_on live-vm runcvm-live)
name=$(nsenter -t "${init:-0}" -n ip -o link | sed -n 's/^[0-9]*: \(eth[0-9]*\)@.* master runcvm-br[1-9].*/\1/p')
[[ -n $name ]] || wait_until "Docker's new interface wired" sh -c "nsenter -t $init -n ip -o link | grep -q 'eth[0-9]*@.* master runcvm-br[1-9]'"
name=$(nsenter -t "${init:-0}" -n ip -o link | sed -n 's/^[0-9]*: \(eth[0-9]*\)@.* master runcvm-br[1-9].*/\1/p')
wait_until "$name with $vm in the VM" in_vm "ip -o -4 addr show $name | grep -q 'inet $vm/'"
in_vm "wget -qO- http://live-peer/" | grep -q "hello from live-peer" || fail "live-peer after connecting again"
pass "connecting the same network again gives the VM $name, as Docker named it"

# The network the VM booted with: its card stays (q35's root bus), its addresses go.
docker network disconnect bridge live-vm
wait_until "eth0 without an address in the VM" in_vm '! ip -o -4 addr show eth0 | grep -q inet'
in_vm "wget -qO- http://live-peer/" | grep -q "hello from live-peer" || fail "live-peer after disconnecting the default bridge"
pass "disconnecting the network the VM booted with takes eth0's addresses; the other network still works"

# As many cards as the VM has slots (RUNCVM_QEMU_HOTPLUG_SLOTS, 2 by default; $name holds one): a
# network past them is refused with a notice in runcvm-init's log, and the VM runs on.
for i in 2 3; do docker_network "runcvm-live$i"; done
for i in 2 3; do docker network connect "runcvm-live$i" live-vm; done
wait_until "the notice of a card too many" grep -q "all 2 hot-plug slots are taken" "/proc/$init/root/.runcvm/runcvm-init.log"
# lo, eth0 and two hot-plugged cards: the first network of the two got the slot
wait_until "two hot-plugged cards in the VM" in_vm '[ "$(ls /sys/class/net | wc -l)" = 4 ]'
in_vm "ip -o -4 addr show | grep -q 'inet $(address_on live-vm runcvm-live2)/'" || fail "runcvm-live2 has no address in the VM"
sleep 2
[[ "$(in_vm 'ls /sys/class/net | wc -l')" == 4 ]] || fail "the VM got a card past its slots: $(in_vm 'ls /sys/class/net')"
pass "hot-plug slots (2): the network past them is refused with a notice in runcvm-init's log, and the VM runs on"

# pc hot-plugs on its root bus (ACPI); microvm has no PCI: the connect is refused with a notice.
docker rm -f live-vm >/dev/null
docker run -d "${VM[@]}" -e RUNCVM_QEMU_MACHINE=pc --name live-vm runcvm-test/vm sleep 900 >/dev/null
init=$(docker inspect -f '{{.State.Pid}}' live-vm)
wait_until "the pc VM running" docker exec live-vm true
docker network connect runcvm-live live-vm
vm=$(address_on live-vm runcvm-live)
wait_until "eth1 with $vm in the pc VM" in_vm "ip -o -4 addr show eth1 | grep -q 'inet $vm/'"
in_vm "wget -qO- http://live-peer/" | grep -q "hello from live-peer" || fail "live-peer from the pc VM"
docker rm -f live-vm >/dev/null
docker run -d "${VM[@]}" -e RUNCVM_QEMU_MACHINE=microvm --name live-vm runcvm-test/vm sleep 900 >/dev/null
init=$(docker inspect -f '{{.State.Pid}}' live-vm)
wait_until "the microvm VM running" docker exec live-vm true
docker network connect runcvm-live live-vm
wait_until "the notice that microvm cannot take the network" \
  grep -q "RUNCVM_QEMU_MACHINE=microvm has no PCI hot-plug" "/proc/$init/root/.runcvm/runcvm-init.log"
[[ "$(in_vm 'ls /sys/class/net | tr "\n" " "')" == "eth0 lo " ]] || fail "the microvm VM's interfaces changed"
docker exec live-vm true || fail "the microvm VM stopped"
# The interface the VM could not take does not leave runcvm-init's namespace on that network.
refused_link_down() {
  local state
  state=$(nsenter -t "${init:-0}" -n ip -o addr show dev eth1 2>&1; nsenter -t "${init:-0}" -n ip -o link show dev eth1 2>&1)
  [[ "$state" != *" inet "* && "$state" != *"state UP"* ]]
}
wait_until "the network the microvm VM could not take down in the container's namespace" refused_link_down
docker rm -f live-vm >/dev/null
docker run -d "${VM[@]}" -e RUNCVM_QEMU_HOTPLUG_SLOTS=0 --name live-vm runcvm-test/vm sleep 900 >/dev/null
init=$(docker inspect -f '{{.State.Pid}}' live-vm)
wait_until "the VM without slots running" docker exec live-vm true
[[ "$(in_vm 'ls /sys/bus/pci/devices | wc -l')" -lt "$(docker run --rm "${VM[@]}" runcvm-test/vm ls /sys/bus/pci/devices | wc -l)" ]] ||
  fail "RUNCVM_QEMU_HOTPLUG_SLOTS=0 left the VM as many PCI devices as the default"
docker network connect runcvm-live live-vm
wait_until "the notice that RUNCVM_QEMU_HOTPLUG_SLOTS=0 takes no network" \
  grep -q "RUNCVM_QEMU_HOTPLUG_SLOTS=0" "/proc/$init/root/.runcvm/runcvm-init.log"
pass "RUNCVM_QEMU_MACHINE=pc hot-plugs on its root bus; microvm and RUNCVM_QEMU_HOTPLUG_SLOTS=0 refuse with a notice and run on"
