// The VM's IPv4 addresses, as runcvm-init pinned them on its bridges: the only peers its services
// (the DNS forwarder, the socket relays) answer. runcvm-init's address is on links the Docker
// network shares, and an interface the VM could not take (or one not yet handed over) keeps
// Docker's address in the container's namespace for a while: a neighbour could reach those
// services through it. One that spoofs a VM address gets no handshake (the answer goes to the VM).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>

namespace runcvm::container_init {

class VmPeers {
 public:
  // `address`: IPv4, with or without a prefix ("172.18.0.2/16"); anything else is ignored.
  void allow(const std::string& address);
  void forget(const std::string& address);
  bool allowed(const sockaddr_in& peer) const;

 private:
  mutable std::mutex mutex_;
  std::set<std::uint32_t> addresses_;  // network byte order
};

}  // namespace runcvm::container_init
