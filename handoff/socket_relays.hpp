// How the VM reaches the host unix sockets a container has bind-mounted (Launch::sockets): one
// relay each, between a listening socket in the VM and the container's socket.
#pragma once

#include <cstddef>

namespace runcvm::handoff {

// The sockets' relays: runcvm-init listens for socket i on kHostSideAddress, port
// socket_relay_port(i), in the container's network namespace, which only the VM reaches.
inline constexpr std::size_t kMaxSockets = 16;
inline constexpr unsigned kFirstSocketRelayPort = 17700;
inline unsigned socket_relay_port(std::size_t index) { return kFirstSocketRelayPort + static_cast<unsigned>(index); }

}  // namespace runcvm::handoff
