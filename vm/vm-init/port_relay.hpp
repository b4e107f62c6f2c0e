// Connections made in the VM, carried to servers in the container's network namespace over the
// VM's link to it (handoff::kHostSideAddress):
// - a TCP port of the VM: `docker run -p` sends a published port to the container's address,
//   which the VM holds; QEMU's VNC server, which runs in the container, is reached this way;
// - a unix socket the container has bind-mounted from the host (docker.sock): the VM gets a
//   listening socket at the same path, and runcvm-init carries each connection from its own TCP
//   port to the socket in the container (container/runcvm-init/socket_relay.hpp).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "handoff/launch.hpp"

namespace runcvm::vm_init {

// Forks a process that accepts on every address of the VM at `port` and copies each connection
// both ways to `target_address`:`port`, a process per connection. Returns at once; `inherited`
// are the caller's descriptors the relay closes (the channel).
void start_port_relay(unsigned port, const std::string& target_address, const std::vector<int>& inherited);

struct SocketRelay {
  std::string path;          // in the VM, the image's symlinks followed (/var/run is /run on Debian)
  unsigned target_port = 0;  // runcvm-init's port for this socket
  uid_t uid = 0;             // the container's socket's owner and mode, so the same users may connect
  gid_t gid = 0;
  mode_t mode = 0660;
};

// The launch's sockets, read before the VM mounts anything over them (/run).
std::vector<SocketRelay> plan_socket_relays(const handoff::Launch& launch);

// Puts a listening unix socket at the relay's path in the VM (bind-mounted over what is there)
// and forks a process that copies each connection to `target_address`:`target_port`.
void start_socket_relay(const SocketRelay& relay, const std::string& target_address, const std::vector<int>& inherited);

}  // namespace runcvm::vm_init
