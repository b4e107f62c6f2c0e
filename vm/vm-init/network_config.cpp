#include "vm/vm-init/network_config.hpp"

#include <sys/mount.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>

#include "common/error.hpp"
#include "common/file.hpp"
#include "net/netlink.hpp"

namespace runcvm::vm_init {

void configure_network(const handoff::Network& network) {
  net::Netlink netlink;
  std::map<std::string, net::Link> by_mac;
  for (const auto& link : netlink.links()) {
    if (link.name == "lo")
      netlink.request(net::set_link({.index = link.index, .up = true}, netlink.next_sequence()), "bringing up lo");
    else
      by_mac[link.mac] = link;
  }
  std::map<std::string, int> by_name;
  bool names_match = true;
  for (const auto& interface : network.interfaces) {
    auto it = by_mac.find(interface.mac);
    if (it == by_mac.end())
      throw Error("the VM has no network device with MAC " + interface.mac + " (for " + interface.name + ")");
    by_name[interface.name] = it->second.index;
    names_match = names_match && it->second.name == interface.name;
  }
  // Usually the kernel named the NICs as the container did (eth0, eth1 in order). Otherwise two
  // passes of renaming: the kernel's eth0 may be the NIC that must become eth1.
  if (!names_match)
    for (std::size_t i = 0; i < network.interfaces.size(); ++i)
      netlink.request(
          net::set_link(
              {.index = by_name.at(network.interfaces[i].name), .name = "runcvm-nic" + std::to_string(i), .up = false},
              netlink.next_sequence()),
          "renaming the NIC for " + network.interfaces[i].name);
  for (const auto& interface : network.interfaces) {
    int index = by_name.at(interface.name);
    std::string what = "configuring " + interface.name;
    netlink.request(net::set_link({.index = index,
                                   .name = names_match ? std::nullopt : std::optional(interface.name),
                                   .mtu = interface.mtu,
                                   .up = true},
                                  netlink.next_sequence()),
                    what);
    for (const auto& cidr : interface.addresses) {
      auto slash = cidr.find('/');
      std::string text = cidr.substr(0, slash);
      net::Address address{index, net::address_family(text), text,
                           static_cast<unsigned>(std::stoul(cidr.substr(slash + 1))), 0};
      netlink.request(net::add_address(address, netlink.next_sequence()), what + ": adding " + cidr);
    }
  }
  for (const auto& route : network.routes) {
    auto device = by_name.find(route.device);
    if (device == by_name.end()) continue;
    int family = net::address_family(route.gateway.empty() ? route.destination : route.gateway);
    net::Route r{
        family, route.prefix == 0 ? "" : route.destination, route.prefix, route.gateway, device->second, 0, 0, 0, 0};
    std::string text =
        (route.prefix == 0 ? std::string("default") : route.destination + "/" + std::to_string(route.prefix)) +
        (route.gateway.empty() ? "" : " via " + route.gateway) + " dev " + route.device;
    netlink.request(net::add_route(r, netlink.next_sequence()), "adding the route " + text);
  }
  if (!network.resolv_conf.empty()) {
    // Over the container's file (Docker's, on the host) for the VM only.
    write_file_atomic("/run/runcvm-resolv.conf", network.resolv_conf);
    if (::mount("/run/runcvm-resolv.conf", "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
      throw system_error("mounting the VM's resolv.conf over", "/etc/resolv.conf", errno);
  }
}

}  // namespace runcvm::vm_init
