// What the VM's network should be, from what the container's namespace holds (pure: netlink's
// view in, the handoff document out), and how runcvm-init wires each interface to the VM.
#pragma once

#include <string>
#include <vector>

#include "handoff/network.hpp"
#include "net/netlink.hpp"

namespace runcvm::container_init {

struct NetworkPlan {
  handoff::Network network;
  bool host_side_address = false;     // the first interface's bridge holds handoff::kHostSideAddress
  bool dns_forwarder = false;         // runcvm-init must serve handoff::kHostSideAddress:53
  std::vector<std::string> warnings;  // one line each, notices (IPv6 addresses skipped, …)
};

// Every Ethernet interface except loopback, with its IPv4 addresses and the main table's IPv4
// routes that are not the kernel's own (those come back with the addresses). When the
// container's resolv.conf names Docker's embedded DNS, the VM's names the forwarder instead and
// gets an on-link route to it; so it does when `host_side_service` (QEMU's VNC server, the relays of host sockets).
// `upstreams`: the servers Docker's embedded DNS forwards to, which the VM asks after the forwarder.
NetworkPlan plan_network(const std::vector<net::Link>& links, const std::vector<net::Address>& addresses,
                         const std::vector<net::Route>& routes, const std::string& resolv_conf,
                         const std::vector<std::string>& upstreams = {}, bool host_side_service = false);

// Whether a resolv.conf sends queries to Docker's embedded DNS.
bool uses_embedded_dns(const std::string& resolv_conf);
// The resolv.conf with Docker's embedded DNS replaced by `nameserver` then up to two upstreams
// (resolv.conf takes three), asked when the first fails or is silent for a second; search and
// options kept.
std::string resolv_conf_for_vm(const std::string& resolv_conf, const std::string& nameserver,
                               const std::vector<std::string>& upstreams = {});

// The names runcvm-init gives the bridge and tap of the interface at `position` (0, 1, …).
std::string bridge_name(std::size_t position);
std::string tap_name(std::size_t position);
// The MAC the container's interface takes once the VM has its original one: the same bytes with
// another locally-administered bit pattern, so that no two containers' derived MACs collide.
std::string container_side_mac(const std::string& mac);
// The MAC of the bridge that holds runcvm-init's address (handoff::kHostSideAddress) for the VM of
// `mac`: set, not left to follow the bridge's ports, so the VM can pin it; another bit pattern
// again, unique per container like the VM's own MAC.
std::string host_side_mac(const std::string& mac);

}  // namespace runcvm::container_init
