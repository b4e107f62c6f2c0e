// The VM's network, as the container had it (handoff/network.hpp): loopback up, each virtio NIC
// (found by the container's MAC) renamed to the container's interface name with its MTU,
// addresses and routes, and the VM's resolv.conf when it must differ from the container's.
#pragma once

#include "handoff/network.hpp"

namespace runcvm::vm_init {

void configure_network(const handoff::Network& network);

}  // namespace runcvm::vm_init
