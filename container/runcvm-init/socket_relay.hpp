// The container's side of the VM's unix sockets (vm/vm-init/port_relay.hpp): for each host socket
// the container has bind-mounted (docker.sock), a TCP listener on the VM's link to the container
// (handoff::kHostSideAddress, port handoff::socket_relay_port(i)) whose connections are carried to
// that socket at its path in the container. The VM chooses only which port it connects to: the
// paths are the launch's, never anything the VM sends.
#pragma once

#include <string>
#include <vector>

namespace runcvm::container_init {

// Connections carried at once, over all sockets; more are closed at once, so a VM cannot make
// runcvm-init hold unbounded threads and descriptors.
inline constexpr unsigned kMaxRelayedConnections = 256;

void start_socket_relays(const std::vector<std::string>& sockets, const std::string& listen_address);

}  // namespace runcvm::container_init
