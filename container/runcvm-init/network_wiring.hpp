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

}  // namespace runcvm::container_init
