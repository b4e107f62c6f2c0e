#include "container/runcvm-init/vm_peers.hpp"

#include <arpa/inet.h>

#include <optional>

namespace runcvm::container_init {
namespace {

std::optional<std::uint32_t> ipv4(const std::string& address) {
  in_addr parsed{};
  if (::inet_pton(AF_INET, address.substr(0, address.find('/')).c_str(), &parsed) != 1) return std::nullopt;
  return parsed.s_addr;
}

}  // namespace

void VmPeers::allow(const std::string& address) {
  if (auto parsed = ipv4(address)) {
    std::lock_guard lock(mutex_);
    addresses_.insert(*parsed);
  }
}

void VmPeers::forget(const std::string& address) {
  if (auto parsed = ipv4(address)) {
    std::lock_guard lock(mutex_);
    addresses_.erase(*parsed);
  }
}

bool VmPeers::allowed(const sockaddr_in& peer) const {
  std::lock_guard lock(mutex_);
  return peer.sin_family == AF_INET && addresses_.count(peer.sin_addr.s_addr) != 0;
}

}  // namespace runcvm::container_init
