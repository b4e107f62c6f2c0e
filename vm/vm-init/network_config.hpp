// The VM's network, as the container had it (handoff/network.hpp): loopback up, each virtio NIC
// (found by the container's MAC) renamed to the container's interface name with its MTU,
// addresses and routes, and the VM's resolv.conf when it must differ from the container's.
// Also the live changes of `docker network connect/disconnect`, which runcvm-init sends while
// the VM runs.
#pragma once

#include <chrono>
#include <string>

#include "handoff/network.hpp"

namespace runcvm::vm_init {

void configure_network(const handoff::Network& network);
// A NIC QEMU has just hot-plugged: waits up to `limit` for the kernel to make it (found by MAC),
// then gives it its name, MTU, addresses and routes (and the resolv.conf when one comes along).
void configure_hotplugged_interface(const handoff::Network& network, std::chrono::milliseconds limit);
// An interface the VM booted with whose network was disconnected: QEMU keeps its card (a PCI
// device on the root bus cannot be unplugged), so its addresses go and it goes down.
void unconfigure_interface(const std::string& name);

}  // namespace runcvm::vm_init
