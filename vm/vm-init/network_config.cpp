#include "vm/vm-init/network_config.hpp"

#include <linux/rtnetlink.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <thread>

#include "common/error.hpp"
#include "common/file.hpp"
#include "net/netlink.hpp"

namespace runcvm::vm_init {
namespace {

// Each interface's link index, found by MAC among `links`; and whether the kernel already gave
// every one the container's name.
struct Matched {
  std::map<std::string, int> index_by_name;
  bool names_match = true;
};
Matched match_interfaces(const handoff::Network& network, const std::vector<net::Link>& links) {
  std::map<std::string, net::Link> by_mac;
  for (const auto& link : links)
    if (link.name != "lo") by_mac[link.mac] = link;
  Matched matched;
  for (const auto& interface : network.interfaces) {
    auto it = by_mac.find(interface.mac);
    if (it == by_mac.end())
      throw Error("the VM has no network device with MAC " + interface.mac + " (for " + interface.name + ")");
    matched.index_by_name[interface.name] = it->second.index;
    matched.names_match = matched.names_match && it->second.name == interface.name;
  }
  return matched;
}

// Frees the wanted names: the NICs get temporary ones, which configure_interfaces replaces.
void rename_interfaces(net::Netlink& netlink, const handoff::Network& network, const std::vector<net::Link>& links,
                       const std::map<std::string, int>& index_by_name) {
  // A link of the VM's that holds a wanted name and is not one of these NICs (a card whose
  // network was disconnected, kept down) moves out of the way.
  for (const auto& link : links) {
    if (!index_by_name.count(link.name) || index_by_name.at(link.name) == link.index) continue;
    bool configured_here = false;
    for (const auto& [name, index] : index_by_name) configured_here = configured_here || index == link.index;
    if (configured_here) continue;
    netlink.request(net::set_link({.index = link.index, .name = "runcvm-old" + std::to_string(link.index), .up = false},
                                  netlink.next_sequence()),
                    "renaming the disconnected interface " + link.name);
  }
  // Usually the kernel named the NICs as the container did (eth0, eth1 in order). Otherwise two
  // passes of renaming: the kernel's eth0 may be the NIC that must become eth1.
  for (std::size_t i = 0; i < network.interfaces.size(); ++i)
    netlink.request(net::set_link({.index = index_by_name.at(network.interfaces[i].name),
                                   .name = "runcvm-nic" + std::to_string(i),
                                   .up = false},
                                  netlink.next_sequence()),
                    "renaming the NIC for " + network.interfaces[i].name);
}

// Names (when they were freed), MTUs and addresses, and each interface up.
void configure_interfaces(net::Netlink& netlink, const handoff::Network& network, const Matched& matched) {
  for (const auto& interface : network.interfaces) {
    int index = matched.index_by_name.at(interface.name);
    std::string what = "configuring " + interface.name;
    netlink.request(net::set_link({.index = index,
                                   .name = matched.names_match ? std::nullopt : std::optional(interface.name),
                                   .mtu = interface.mtu,
                                   .up = true},
                                  netlink.next_sequence()),
                    what);
    for (const auto& cidr : interface.addresses)
      netlink.request(net::add_address(net::parse_cidr(cidr, index), netlink.next_sequence()),
                      what + ": adding " + cidr);
  }
}

// The routes; a route may name an interface configured earlier (a hot-plugged network's route to
// runcvm-init's address goes through the first one), found in `devices` by name.
void add_routes(net::Netlink& netlink, const handoff::Network& network, const std::map<std::string, int>& devices) {
  for (const auto& route : network.routes) {
    auto device = devices.find(route.device);
    if (device == devices.end()) continue;
    int family = net::address_family(route.gateway.empty() ? route.destination : route.gateway);
    net::Route r{
        family, route.prefix == 0 ? "" : route.destination, route.prefix, route.gateway, device->second, 0, 0, 0, 0};
    std::string text =
        (route.prefix == 0 ? std::string("default") : route.destination + "/" + std::to_string(route.prefix)) +
        (route.gateway.empty() ? "" : " via " + route.gateway) + " dev " + route.device;
    netlink.request(net::add_route(r, netlink.next_sequence()), "adding the route " + text);
    // runcvm-init's address is on a link the Docker network shares: pinned to runcvm-init's MAC,
    // no neighbour there can take it over with ARP (SECURITY.md).
    if (route.destination == handoff::kHostSideAddress && route.prefix == 32 && !network.host_side_mac.empty())
      netlink.request(
          net::add_permanent_neighbour({device->second, AF_INET, handoff::kHostSideAddress, network.host_side_mac},
                                       netlink.next_sequence()),
          "pinning runcvm-init's address " + std::string(handoff::kHostSideAddress) + " on " + route.device);
  }
}

// Over the container's file (Docker's, on the host) for the VM only. A later one (a network
// connected while the VM runs) is a new file mounted over the last.
void install_resolv_conf(const std::string& text) {
  if (text.empty()) return;
  write_file_atomic("/run/runcvm-resolv.conf", text);
  if (::mount("/run/runcvm-resolv.conf", "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
    throw system_error("mounting the VM's resolv.conf over", "/etc/resolv.conf", errno);
}

// Names, MTUs, addresses and routes of `network`'s interfaces, whose NICs are `links` (by MAC).
void apply(net::Netlink& netlink, const handoff::Network& network, const std::vector<net::Link>& links) {
  Matched matched = match_interfaces(network, links);
  if (!matched.names_match) rename_interfaces(netlink, network, links, matched.index_by_name);
  configure_interfaces(netlink, network, matched);
  std::map<std::string, int> devices = matched.index_by_name;
  for (const auto& link : links)
    if (!devices.count(link.name)) devices[link.name] = link.index;
  add_routes(netlink, network, devices);
  install_resolv_conf(network.resolv_conf);
}

}  // namespace

namespace {

// The links, once every interface of `network` has its device (by MAC) or `limit` passed.
std::vector<net::Link> links_when_present(net::Netlink& netlink, const handoff::Network& network,
                                          std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::vector<net::Link> links = netlink.links();
    std::size_t found = 0;
    for (const auto& interface : network.interfaces)
      for (const auto& link : links) found += link.mac == interface.mac ? 1 : 0;
    if (found >= network.interfaces.size() || std::chrono::steady_clock::now() > deadline) return links;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

// A VM restored from a template is given its cards as it resumes (hot-plugged): they may still
// be probing.
void configure_network(const handoff::Network& network) {
  net::Netlink netlink;
  for (const auto& link : netlink.links())
    if (link.name == "lo")
      netlink.request(net::set_link({.index = link.index, .up = true}, netlink.next_sequence()), "bringing up lo");
  apply(netlink, network, links_when_present(netlink, network, std::chrono::seconds(10)));
}

void configure_hotplugged_interface(const handoff::Network& network, std::chrono::milliseconds limit) {
  net::Netlink netlink;
  apply(netlink, network, links_when_present(netlink, network, limit));  // throws naming the NIC that never came
}

void unconfigure_interface(const std::string& name) {
  net::Netlink netlink;
  int index = 0;
  for (const auto& link : netlink.links())
    if (link.name == name) index = link.index;
  if (index == 0) return;  // already gone
  for (const auto& address : netlink.addresses(AF_UNSPEC))
    if (address.index == index && (address.family == AF_INET || address.scope == RT_SCOPE_UNIVERSE))
      netlink.request(net::remove_address(address, netlink.next_sequence()),
                      "removing " + address.address + " from " + name);
  netlink.request(net::set_link({.index = index, .up = false}, netlink.next_sequence()), "taking " + name + " down");
}

}  // namespace runcvm::vm_init
