// rtnetlink, the kernel's own interface for links, addresses and routes: what `ip` speaks. Both
// runcvm-init (reading the container's interfaces, wiring them to the VM) and runcvm-vm-init
// (configuring the VM's) use it; parsing `ip` output would need `ip` in every image. Messages are
// built and parsed as bytes by pure functions; only the Netlink class touches the kernel. Written by
// hand: libnl is not among the project's dependencies, and the few messages needed are small.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"

namespace runcvm::net {

struct Link {
  int index = 0;
  std::string name;
  std::string mac;  // "02:42:ac:11:00:02"; empty when the link has none (loopback has zeros)
  unsigned mtu = 0;
  unsigned type = 0;   // ARPHRD_*
  unsigned flags = 0;  // IFF_*
  std::string kind;    // IFLA_INFO_KIND: veth, bridge, tun, …; empty when the kernel names none
};

struct Address {
  int index = 0;
  int family = 0;  // AF_INET, AF_INET6
  std::string address;
  unsigned prefix = 0;
  unsigned scope = 0;
};

struct Route {
  int family = 0;
  std::string destination;  // "" for the default route
  unsigned prefix = 0;
  std::string gateway;  // "" when on-link
  int index = 0;        // output interface
  unsigned table = 0;
  unsigned protocol = 0;  // RTPROT_*: kernel routes come with addresses and are not copied
  unsigned scope = 0;
  unsigned type = 0;  // RTN_UNICAST, …
};

// Parsers of one netlink message (header included); nullopt for a message of another type.
std::optional<Link> parse_link(std::string_view message);
std::optional<Address> parse_address(std::string_view message);
std::optional<Route> parse_route(std::string_view message);
// Splits a datagram into messages; throws runcvm::Error on a malformed length.
std::vector<std::string_view> split_messages(std::string_view datagram);

// AF_INET6 for an address written with colons, else AF_INET: network.json carries addresses as text.
int address_family(std::string_view address);
// "172.18.0.2/16" as the address of link `index` (network.json's form).
Address parse_cidr(const std::string& cidr, int index);

std::string format_mac(std::string_view bytes);
std::string parse_mac(std::string_view text);  // 6 bytes; throws runcvm::Error naming the text

// A request under construction: header, fixed part, attributes (nested where needed).
class Message {
 public:
  Message(std::uint16_t type, std::uint16_t flags);
  template <class T>
  Message& fixed(const T& value) {
    append(&value, sizeof value);
    return *this;
  }
  Message& attribute(std::uint16_t type, const void* data, std::size_t size);
  Message& attribute(std::uint16_t type, std::string_view text);  // NUL-terminated, as the kernel wants names
  Message& attribute_u32(std::uint16_t type, std::uint32_t value);
  std::size_t begin_nested(std::uint16_t type);
  Message& end_nested(std::size_t start);
  // The bytes, with the total length and sequence number filled in.
  std::string finish(std::uint32_t sequence) const;

 private:
  void append(const void* data, std::size_t size);
  std::string bytes_;
};

// Request builders (pure): the messages `ip link/addr/route` would send.
std::string dump_request(std::uint16_t type, int family, std::uint32_t sequence);
// What `ip link set` changes of one link; what is left unset stays as it is.
struct LinkChange {
  int index = 0;
  std::optional<std::string> name = {};
  std::optional<std::string> mac = {};
  std::optional<unsigned> mtu = {};
  std::optional<bool> up = {};
  std::optional<int> master = {};  // the bridge to join
};
std::string set_link(const LinkChange& change, std::uint32_t sequence);
std::string new_bridge(const std::string& name, std::uint32_t sequence);
std::string delete_link(int index, std::uint32_t sequence);  // `ip link delete`
// `bridge link set dev <index> learning off`: the bridge stops learning which port a source MAC is
// behind from frames arriving on this port.
std::string stop_bridge_port_learning(int index, std::uint32_t sequence);
std::string add_address(const Address& address, std::uint32_t sequence);
std::string remove_address(const Address& address, std::uint32_t sequence);
std::string add_route(const Route& route, std::uint32_t sequence);
// `ip neigh replace <address> lladdr <mac> dev <index> nud permanent`: an entry no ARP or
// neighbour advertisement from the link can change.
struct Neighbour {
  int index = 0;
  int family = 0;
  std::string address;
  std::string mac;  // "02:42:ac:11:00:02"
};
std::string add_permanent_neighbour(const Neighbour& neighbour, std::uint32_t sequence);

class Netlink {
 public:
  Netlink();  // a NETLINK_ROUTE socket in the caller's network namespace
  std::vector<Link> links();
  std::vector<Address> addresses(int family);
  std::vector<Route> routes(int family);
  // Sends a request and waits for its acknowledgement; throws runcvm::Error "<what>: <errno text>".
  void request(const std::string& message, std::string_view what);
  std::uint32_t next_sequence() { return ++sequence_; }

 private:
  std::vector<std::string> dump(std::uint16_t type, int family);
  UniqueFd socket_;
  std::uint32_t sequence_ = 0;
};

}  // namespace runcvm::net
