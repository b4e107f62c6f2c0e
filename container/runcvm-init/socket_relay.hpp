// The container's side of the VM's unix sockets (vm/vm-init/port_relay.hpp): for each host socket
// the container has bind-mounted (docker.sock), a TCP listener on the VM's link to the container
// (handoff::kHostSideAddress, port handoff::socket_relay_port(i)) whose connections are carried to
// that socket. The VM chooses only which port it connects to: the sockets are the launch's, held
// open since before the VM ran (held_files.hpp), never a path the VM could have rearranged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "container/runcvm-init/vm_peers.hpp"
#include "handoff/socket_relays.hpp"

namespace runcvm::container_init {

// Connections carried at once, over all sockets; more are closed at once, so a VM cannot make
// runcvm-init hold unbounded threads and descriptors.
inline constexpr unsigned kMaxRelayedConnections = 256;

struct RelayedSocket {
  std::string path;  // in the container, for messages
  UniqueFd held;     // hold_socket(path), taken before the VM started
};

// Connections from anyone but `peers` are closed at once.
void start_socket_relays(std::vector<RelayedSocket> sockets, const std::string& listen_address,
                         std::shared_ptr<const VmPeers> peers);

}  // namespace runcvm::container_init
