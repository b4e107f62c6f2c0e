#include "guest/runcvm-init/network_setup.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

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

net::Address parse_cidr(const std::string& cidr, int index) {
  auto slash = cidr.find('/');
  return net::Address{index, AF_INET, cidr.substr(0, slash), static_cast<unsigned>(std::stoul(cidr.substr(slash + 1))), 0};
}

sockaddr_in ipv4(const std::string& address, std::uint16_t port) {
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &out.sin_addr);
  return out;
}

UniqueFd bound_socket(int type, const std::string& address) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in local = ipv4(address, 53);
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    throw system_error("listening for DNS on", address + ":53", errno);
  return fd;
}

UniqueFd upstream(int type) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in docker_dns = ipv4("127.0.0.11", 53);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&docker_dns), sizeof docker_dns) != 0) return UniqueFd();
  return fd;
}

// One UDP query: ask Docker's DNS from a socket of its own, so answers cannot cross.
void answer_udp(int listener, std::string query, sockaddr_in client) {
  UniqueFd fd = upstream(SOCK_DGRAM);
  if (!fd || ::send(fd.get(), query.data(), query.size(), 0) < 0) return;
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, 5000) <= 0) return;
  char answer[65536];
  ssize_t n = ::recv(fd.get(), answer, sizeof answer, 0);
  if (n > 0) ::sendto(listener, answer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&client), sizeof client);
}

// One TCP connection, relayed both ways. A client may close its sending side once its query is
// out (busybox nc does): that is passed on, and the answer still comes back.
void relay_tcp(int client_fd) {
  UniqueFd client(client_fd);
  UniqueFd server = upstream(SOCK_STREAM);
  if (!server) return;
  char buffer[65536];
  bool client_open = true;
  for (;;) {
    pollfd fds[2] = {{client_open ? client.get() : -1, POLLIN, 0}, {server.get(), POLLIN, 0}};
    if (::poll(fds, 2, 30000) <= 0) return;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0 && i == 0) {
        client_open = false;
        ::shutdown(server.get(), SHUT_WR);
        continue;
      }
      if (n <= 0) return;  // the server is done: so is the client's connection
      int to = i == 0 ? server.get() : client.get();
      if (::send(to, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
    }
  }
}

}  // namespace

std::vector<Nic> wire_network(const NetworkPlan& plan) {
  net::Netlink netlink;
  std::vector<Nic> nics;
  for (std::size_t i = 0; i < plan.network.interfaces.size(); ++i) {
    const auto& interface = plan.network.interfaces[i];
    std::string what = "wiring " + interface.name + " to the VM";
    int tap_fd = open_tap(tap_name(i));
    nics.push_back({tap_fd, interface.mac, interface.mtu});
    netlink.request(net::new_bridge(bridge_name(i), netlink.next_sequence()), what + ": creating its bridge");
    int container_side = index_of(netlink, interface.name);
    int tap = index_of(netlink, tap_name(i));
    int bridge = index_of(netlink, bridge_name(i));
    for (const auto& cidr : interface.addresses)
      netlink.request(net::change_address(false, parse_cidr(cidr, container_side), netlink.next_sequence()),
                      what + ": removing " + cidr);
    netlink.request(net::set_link(container_side, std::nullopt, std::nullopt, std::nullopt, false, std::nullopt,
                                  netlink.next_sequence()), what);
    netlink.request(net::set_link(container_side, std::nullopt, container_side_mac(interface.mac), std::nullopt, true,
                                  bridge, netlink.next_sequence()), what + ": joining its bridge");
    netlink.request(net::set_link(tap, std::nullopt, std::nullopt, interface.mtu, true, bridge, netlink.next_sequence()),
                    what + ": attaching the tap");
    netlink.request(net::set_link(bridge, std::nullopt, std::nullopt, std::nullopt, true, std::nullopt,
                                  netlink.next_sequence()), what + ": bringing the bridge up");
    if (i == 0 && plan.dns_forwarder) {
      // The forwarder's address, and the way back to the VM's addresses for its answers.
      netlink.request(net::change_address(true, net::Address{bridge, AF_INET, kDnsForwarderAddress, 32, 0},
                                          netlink.next_sequence()), what + ": adding the DNS forwarder's address");
      for (const auto& cidr : interface.addresses) {
        net::Address vm = parse_cidr(cidr, bridge);
        netlink.request(net::add_route(net::Route{AF_INET, vm.address, 32, "", bridge, 0, 0, 0, 0}, netlink.next_sequence()),
                        what + ": routing answers to " + vm.address);
      }
    }
  }
  return nics;
}

void start_dns_forwarder(const std::string& listen_address) {
  UniqueFd udp = bound_socket(SOCK_DGRAM, listen_address);
  UniqueFd tcp = bound_socket(SOCK_STREAM, listen_address);
  if (::listen(tcp.get(), 64) != 0) throw system_error("listening for DNS over TCP on", listen_address, errno);
  std::thread([fd = udp.release()] {
    char query[65536];
    for (;;) {
      sockaddr_in client{};
      socklen_t size = sizeof client;
      ssize_t n = ::recvfrom(fd, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&client), &size);
      if (n > 0) std::thread(answer_udp, fd, std::string(query, static_cast<size_t>(n)), client).detach();
    }
  }).detach();
  std::thread([fd = tcp.release()] {
    for (;;) {
      int client = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) std::thread(relay_tcp, client).detach();
    }
  }).detach();
}

}  // namespace runcvm::container_init
