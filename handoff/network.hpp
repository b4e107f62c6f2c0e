// The second handoff document: the container's network as runcvm-init found it when the container
// started (Docker 26+ attaches interfaces after `create`, so the runtime cannot know it), for
// runcvm-vm-init to give the VM the same interfaces, addresses, routes and DNS.
// Written to /.runcvm/network.json before QEMU starts; strict and versioned like launch.json.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "handoff/state_directory.hpp"

namespace runcvm::handoff {

inline constexpr int kNetworkVersion = 2;
// runcvm-init's address on the VM's first link, in the container's namespace: a link-local address
// the VM reaches on-link, which no Docker network uses. Docker's embedded DNS is forwarded there,
// and the VM relays the VNC port (5900 + RUNCVM_QEMU_VNC_DISPLAY) to QEMU's server there.
inline constexpr const char* kHostSideAddress = "169.254.77.1";

struct Interface {
  std::string name;  // as in the container: eth0, eth1, …
  std::string mac;   // the container's MAC, which the VM's NIC takes
  unsigned mtu = 1500;
  std::vector<std::string> addresses;  // IPv4, "172.18.0.2/16"
};

struct NetworkRoute {
  std::string destination;  // "" for the default route, else the network ("10.1.0.0")
  unsigned prefix = 0;
  std::string gateway;  // "" for an on-link route
  std::string device;   // interface name
};

struct Network {
  int version = kNetworkVersion;
  std::vector<Interface> interfaces;
  std::vector<NetworkRoute> routes;
  // The VM's /etc/resolv.conf when it differs from the container's: Docker's embedded DNS
  // (127.0.0.11) answers only inside the container's namespace, so the VM asks runcvm-init's
  // forwarder instead, keeping the search domains and options. "" keeps the container's file.
  std::string resolv_conf;
  // The MAC of kHostSideAddress on the VM's link ("" when the VM has no route to it): the VM pins
  // it as a permanent neighbour, so nothing else on the Docker network can take the address over
  // by ARP and receive the VM's DNS queries or relayed sockets' traffic.
  std::string host_side_mac;
};

std::string to_json_text(const Network& network);
// Throws runcvm::Error naming the field for anything that does not match the format exactly.
Network parse_network(std::string_view json_text);

}  // namespace runcvm::handoff
