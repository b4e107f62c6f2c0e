// A TCP port of the VM relayed to a server in the container's namespace. `docker run -p` sends a
// published port to the container's address, which the VM holds: QEMU's VNC server, which runs in
// the container, is reached through the VM this way.
#pragma once

#include <string>
#include <vector>

namespace runcvm::vm_init {

// Forks a process that accepts on every address of the VM at `port` and copies each connection
// both ways to `target_address`:`port`, a process per connection. Returns at once; `inherited`
// are the caller's descriptors the relay closes (the channel).
void start_port_relay(unsigned port, const std::string& target_address, const std::vector<int>& inherited);

}  // namespace runcvm::vm_init
