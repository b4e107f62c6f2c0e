#include "container/runcvm-init/network_plan.hpp"

#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/error.hpp"

namespace runcvm::container_init {

NetworkPlan plan_network(const std::vector<net::Link>& links, const std::vector<net::Address>& addresses,
                         const std::vector<net::Route>& routes, const std::string& resolv_conf,
                         const std::vector<std::string>& upstreams, bool host_side_service) {
  NetworkPlan plan;
  std::vector<net::Link> ethernet;
  for (const auto& link : links)
    if (link.type == ARPHRD_ETHER && link.name != "lo") ethernet.push_back(link);
  std::sort(ethernet.begin(), ethernet.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  auto name_of = [&](int index) -> std::string {
    for (const auto& link : ethernet)
      if (link.index == index) return link.name;
    return "";
  };
  for (const auto& link : ethernet) {
    handoff::Interface interface {
      link.name, link.mac, link.mtu, {}
    };
    for (const auto& a : addresses) {
      if (a.index != link.index) continue;
      // IPv6 link-local addresses come from the MAC, which the VM's NIC has: its kernel makes them.
      if (a.family == AF_INET || (a.family == AF_INET6 && a.scope == RT_SCOPE_UNIVERSE))
        interface.addresses.push_back(a.address + "/" + std::to_string(a.prefix));
    }
    plan.network.interfaces.push_back(interface);
  }
  for (const auto& r : routes) {
    // Kernel routes come with the addresses; routes learned from router advertisements expire and
    // are learned again by the VM's own kernel.
    if ((r.family != AF_INET && r.family != AF_INET6) || r.table != RT_TABLE_MAIN || r.type != RTN_UNICAST ||
        r.protocol == RTPROT_KERNEL || r.protocol == RTPROT_RA)
      continue;
    std::string device = name_of(r.index);
    if (device.empty()) continue;  // via loopback or a link the VM does not get
    // A default route is "" (IPv4) or "::" (IPv6), so that its family survives without a gateway.
    std::string destination = r.prefix != 0 ? r.destination : r.family == AF_INET6 ? "::" : "";
    plan.network.routes.push_back({destination, r.prefix, r.gateway, device});
  }
  // The VM adds on-link routes before those through a gateway that they make reachable.
  std::stable_sort(plan.network.routes.begin(), plan.network.routes.end(),
                   [](const auto& a, const auto& b) { return a.gateway.empty() && !b.gateway.empty(); });
  if (plan.network.interfaces.empty()) return plan;
  if (uses_embedded_dns(resolv_conf)) {
    plan.dns_forwarder = true;
    plan.network.resolv_conf = resolv_conf_for_vm(resolv_conf, handoff::kHostSideAddress, upstreams);
  }
  if (plan.dns_forwarder || host_side_service) {
    plan.host_side_address = true;
    plan.network.host_side_mac = host_side_mac(plan.network.interfaces.front().mac);
    plan.network.routes.insert(
        plan.network.routes.begin(),
        handoff::NetworkRoute{handoff::kHostSideAddress, 32, "", plan.network.interfaces.front().name});
  }
  return plan;
}

bool uses_embedded_dns(const std::string& resolv_conf) {
  std::istringstream lines(resolv_conf);
  std::string keyword, value;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    if (words >> keyword >> value && keyword == "nameserver" && value == "127.0.0.11") return true;
  }
  return false;
}

std::string resolv_conf_for_vm(const std::string& resolv_conf, const std::string& nameserver,
                               const std::vector<std::string>& upstreams) {
  std::istringstream lines(resolv_conf);
  std::string out =
      "# runcvm: Docker's embedded DNS (127.0.0.11) through runcvm-init's forwarder, then the servers\n"
      "# it forwards other names to (its queries for them cannot leave the container's namespace)\n";
  bool replaced = false;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string keyword, value;
    if (words >> keyword >> value && keyword == "nameserver" && value == "127.0.0.11") {
      if (!replaced) {
        out += "nameserver " + nameserver + "\n";
        for (std::size_t i = 0; i < upstreams.size() && i < 2; ++i) out += "nameserver " + upstreams[i] + "\n";
      }
      replaced = true;
      continue;
    }
    if (keyword == "options" && !upstreams.empty()) {
      out += line + " timeout:1\n";  // the forwarder stays silent about names Docker cannot resolve
      continue;
    }
    out += line + "\n";
  }
  return out;
}

std::string bridge_name(std::size_t position) { return "runcvm-br" + std::to_string(position); }
std::string tap_name(std::size_t position) { return "runcvm-tap" + std::to_string(position); }

std::string host_side_mac(const std::string& mac) {
  std::string bytes = net::parse_mac(mac);
  // Docker's 02:42:… becomes 0a:42:…, neither the VM's MAC nor the container side's 06:42:….
  bytes[0] = static_cast<char>((static_cast<unsigned char>(bytes[0]) | 0x02) ^ 0x08);
  return net::format_mac(bytes);
}

std::string container_side_mac(const std::string& mac) {
  std::string bytes = net::parse_mac(mac);
  // Set "locally administered" and flip the next bit up: Docker's 02:42:… becomes 06:42:….
  bytes[0] = static_cast<char>((static_cast<unsigned char>(bytes[0]) | 0x02) ^ 0x04);
  return net::format_mac(bytes);
}

}  // namespace runcvm::container_init
