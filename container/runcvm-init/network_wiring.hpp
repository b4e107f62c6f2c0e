// Wiring the container's interfaces to the VM (system calls; the plan is network_plan.hpp). Each
// interface gets a bridge holding it and a tap whose descriptor QEMU's virtio-net uses; the
// interface gives its addresses to the VM and takes another MAC, so that the VM answers with the
// container's MAC and IP. A bridge rather than tc redirection: it needs only the bridge and tun
// drivers (tc's classifiers are modules some hosts lack), and it leaves the container's namespace
// an address on the VM's link, which the DNS forwarder needs.
#pragma once

#include <string>
#include <vector>

#include "container/runcvm-init/network_plan.hpp"
#include "container/runcvm-init/vm_command.hpp"

namespace runcvm::container_init {

// Returns the VM's NICs; their tap descriptors stay open (and inheritable) for QEMU.
std::vector<Nic> wire_network(const NetworkPlan& plan);
// One interface, given the bridge and tap of `position` (an interface connected while the VM runs).
Nic wire_interface(net::Netlink& netlink, const handoff::Interface& interface, std::size_t position);
// runcvm-init's own address (handoff::kHostSideAddress) on the bridge of `position`, whose MAC
// becomes host_side_mac(vm_mac), and the way back to the VM's IPv4 `addresses` ("172.18.0.2/16")
// through it, each pinned to the VM's MAC: the bridge is also a port of the Docker network, and
// a neighbour there answering ARP for the VM's address must not receive runcvm-init's answers.
// Returns the bridge's MAC, which the VM pins for kHostSideAddress (handoff::Network).
std::string give_host_side_address(net::Netlink& netlink, std::size_t position, const std::string& vm_mac,
                                   const std::vector<std::string>& addresses);
// Deletes the bridge of `position` (its tap goes with QEMU's last descriptor of it).
void unwire_interface(net::Netlink& netlink, std::size_t position);

}  // namespace runcvm::container_init
