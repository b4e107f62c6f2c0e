// runcvm-init's DNS forwarder: the VM's resolver asks it, and it asks Docker's embedded DNS in
// the container's network namespace (the VM cannot reach 127.0.0.11 itself). What the VM sends is
// untrusted, so the forwarder is one thread with one poll loop and fixed bounds: at most
// kMaxUdpQueries queries and kMaxTcpRelays connections in flight, each with a deadline; past a
// bound, new queries are dropped (a resolver retries) and connections wait in the kernel's
// backlog; running out of descriptors (EMFILE) pauses accepting instead of spinning.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "container/runcvm-init/vm_peers.hpp"

namespace runcvm::container_init {

struct DnsForwarderSettings {
  std::string listen_address;  // IPv4; port `listen_port`, UDP and TCP
  std::uint16_t listen_port = 53;
  std::string upstream_address = "127.0.0.11";  // Docker's embedded DNS
  std::uint16_t upstream_port = 53;
  std::chrono::milliseconds udp_timeout{5000};  // a query without an answer by then is dropped
  std::chrono::milliseconds tcp_idle{30000};    // a connection idle this long is closed
  // Whom it answers (vm_peers.hpp); none: anyone that reaches the address (the tests' loopback).
  std::shared_ptr<const VmPeers> peers = {};
};

inline constexpr std::size_t kMaxUdpQueries = 256;
inline constexpr std::size_t kMaxTcpRelays = 64;

// Binds both sockets (errors are thrown here, in the caller), then serves on a thread of its own
// for the life of the process.
void start_dns_forwarder(const DnsForwarderSettings& settings);

}  // namespace runcvm::container_init
