#include "container/runcvm-init/network_wiring.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace runcvm::container_init {
namespace {

int open_tap(const std::string& name) {
  // Not close-on-exec: QEMU inherits it and is told its number.
  int fd = ::open("/dev/net/tun", O_RDWR);
  if (fd < 0) throw system_error("opening", "/dev/net/tun", errno);
  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", name.c_str());
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd, TUNSETIFF, &request) != 0) {
    int e = errno;
    ::close(fd);
    throw system_error("creating the tap", name, e);
  }
  return fd;
}

int index_of(net::Netlink& netlink, const std::string& name) {
  for (const auto& link : netlink.links())
    if (link.name == name) return link.index;
  throw Error("network interface " + quote(name) + " disappeared while runcvm-init was wiring it");
}

}  // namespace

Nic wire_interface(net::Netlink& netlink, const handoff::Interface& interface, std::size_t position) {
  std::string what = "wiring " + interface.name + " to the VM";
  UniqueFd tap_fd(open_tap(tap_name(position)));  // closed if wiring fails half-way
  netlink.request(net::new_bridge(bridge_name(position), netlink.next_sequence()), what + ": creating its bridge");
  int container_side = index_of(netlink, interface.name);
  int tap = index_of(netlink, tap_name(position));
  int bridge = index_of(netlink, bridge_name(position));
  for (const auto& cidr : interface.addresses)
    netlink.request(net::remove_address(net::parse_cidr(cidr, container_side), netlink.next_sequence()),
                    what + ": removing " + cidr);
  netlink.request(net::set_link({.index = container_side, .up = false}, netlink.next_sequence()), what);
  netlink.request(
      net::set_link({.index = container_side, .mac = container_side_mac(interface.mac), .up = true, .master = bridge},
                    netlink.next_sequence()),
      what + ": joining its bridge");
  // A host bridge in hairpin mode (podman's CNI networks, Docker without its userland proxy)
  // sends the VM's broadcasts back down this link: learning from them would put the VM's MAC
  // behind this port, and the bridge would drop every answer to the VM as going back where it
  // came from. Frames from the host side go to the only other port, the tap, either way.
  netlink.request(net::stop_bridge_port_learning(container_side, netlink.next_sequence()),
                  what + ": stopping its bridge from learning the VM's address from the host side");
  netlink.request(
      net::set_link({.index = tap, .mtu = interface.mtu, .up = true, .master = bridge}, netlink.next_sequence()),
      what + ": attaching the tap");
  netlink.request(net::set_link({.index = bridge, .up = true}, netlink.next_sequence()),
                  what + ": bringing the bridge up");
  return Nic{tap_fd.release(), interface.mac, interface.mtu};
}

std::string give_host_side_address(net::Netlink& netlink, std::size_t position, const std::string& vm_mac,
                                   const std::vector<std::string>& addresses) {
  int bridge = index_of(netlink, bridge_name(position));
  std::string what = "giving runcvm-init an address on the VM's link";
  std::string mac = host_side_mac(vm_mac);
  netlink.request(net::set_link({.index = bridge, .mac = mac}, netlink.next_sequence()), what + ": setting its MAC");
  netlink.request(
      net::add_address(net::Address{bridge, AF_INET, handoff::kHostSideAddress, 32, 0}, netlink.next_sequence()), what);
  for (const auto& cidr : addresses) {
    net::Address vm = net::parse_cidr(cidr, bridge);
    if (vm.family != AF_INET) continue;  // runcvm-init's own address is IPv4
    netlink.request(
        net::add_route(net::Route{AF_INET, vm.address, 32, "", bridge, 0, 0, 0, 0}, netlink.next_sequence()),
        what + ": routing answers to " + vm.address);
    netlink.request(net::add_permanent_neighbour({bridge, AF_INET, vm.address, vm_mac}, netlink.next_sequence()),
                    what + ": pinning " + vm.address + " to the VM's MAC");
  }
  return mac;
}

void unwire_interface(net::Netlink& netlink, std::size_t position) {
  for (const auto& link : netlink.links())
    if (link.name == bridge_name(position))
      netlink.request(net::delete_link(link.index, netlink.next_sequence()), "deleting " + link.name);
}

std::vector<Nic> wire_network(const NetworkPlan& plan) {
  net::Netlink netlink;
  std::vector<Nic> nics;
  for (std::size_t i = 0; i < plan.network.interfaces.size(); ++i)
    nics.push_back(wire_interface(netlink, plan.network.interfaces[i], i));
  // runcvm-init's own address (DNS forwarder, VNC), and the way back to the VM's addresses.
  if (plan.host_side_address && !plan.network.interfaces.empty())
    give_host_side_address(netlink, 0, plan.network.interfaces.front().mac, plan.network.interfaces.front().addresses);
  return nics;
}

}  // namespace runcvm::container_init
