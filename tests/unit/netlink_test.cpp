// net/netlink: the messages runcvm builds and the kernel's answers it parses, byte for byte.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "common/error.hpp"
#include "net/netlink.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

namespace {

// A message as the kernel would answer a dump: our own builder makes the bytes, the parser must
// read them back.
std::string link_message(int index, const std::string& name, const std::string& mac, unsigned mtu) {
  net::Message m(RTM_NEWLINK, 0);
  ifinfomsg info{};
  info.ifi_index = index;
  info.ifi_type = ARPHRD_ETHER;
  m.fixed(info);
  m.attribute(IFLA_IFNAME, name);
  std::string bytes = net::parse_mac(mac);
  m.attribute(IFLA_ADDRESS, bytes.data(), bytes.size());
  m.attribute_u32(IFLA_MTU, mtu);
  std::size_t nested = m.begin_nested(IFLA_LINKINFO);
  m.attribute(IFLA_INFO_KIND, std::string_view("veth"));
  m.end_nested(nested);
  return m.finish(7);
}

}  // namespace

TEST_CASE("netlink messages are built and parsed as the kernel lays them out", "[net]") {
  std::string datagram =
      link_message(12, "eth0", "02:42:ac:11:00:02", 9000) + link_message(13, "eth1", "02:42:0a:4d:00:32", 1400);
  auto messages = net::split_messages(datagram);
  REQUIRE(messages.size() == 2);
  auto link = net::parse_link(messages[0]);
  REQUIRE(link);
  CHECK(link->index == 12);
  CHECK(link->name == "eth0");
  CHECK(link->mac == "02:42:ac:11:00:02");
  CHECK(link->mtu == 9000);
  CHECK(link->kind == "veth");
  CHECK(link->type == ARPHRD_ETHER);
  CHECK_FALSE(net::parse_address(messages[0]));  // another message type

  net::Address address{12, AF_INET, "172.18.0.2", 16, 0};
  std::string add = net::add_address(address, 9);
  std::string as_answer = add;
  std::uint16_t type = RTM_NEWADDR;
  std::memcpy(as_answer.data() + 4, &type, sizeof type);
  auto parsed = net::parse_address(net::split_messages(as_answer).front());
  REQUIRE(parsed);
  CHECK(parsed->address == "172.18.0.2");
  CHECK(parsed->prefix == 16);
  CHECK(parsed->index == 12);

  nlmsghdr header{};
  std::string removal = net::remove_address(address, 11);
  std::memcpy(&header, removal.data(), sizeof header);
  CHECK(header.nlmsg_type == RTM_DELADDR);
  CHECK((header.nlmsg_flags & (NLM_F_CREATE | NLM_F_REPLACE)) == 0);
  std::memcpy(&header, add.data(), sizeof header);
  CHECK(header.nlmsg_type == RTM_NEWADDR);
  CHECK((header.nlmsg_flags & (NLM_F_CREATE | NLM_F_REPLACE)) == (NLM_F_CREATE | NLM_F_REPLACE));

  // Only what a LinkChange names is in the request.
  auto changed =
      net::parse_link(net::split_messages(net::set_link({.index = 7, .name = "eth1", .mtu = 1400}, 12)).front());
  REQUIRE(changed);
  CHECK(changed->index == 7);
  CHECK(changed->name == "eth1");
  CHECK(changed->mtu == 1400);
  CHECK(changed->mac.empty());

  // `bridge link set dev 7 learning off`: the bridge's handler (AF_BRIDGE), the port's settings
  // nested in IFLA_PROTINFO (flagged nested, or the kernel reads it as an old STP state byte).
  std::string learning = net::stop_bridge_port_learning(7, 14);
  std::memcpy(&header, learning.data(), sizeof header);
  CHECK(header.nlmsg_type == RTM_SETLINK);
  CHECK(header.nlmsg_len == learning.size());
  ifinfomsg port{};
  std::memcpy(&port, learning.data() + NLMSG_HDRLEN, sizeof port);
  CHECK(port.ifi_family == AF_BRIDGE);
  CHECK(port.ifi_index == 7);
  rtattr outer{}, inner{};
  std::size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof port);
  std::memcpy(&outer, learning.data() + at, sizeof outer);
  CHECK(outer.rta_type == (IFLA_PROTINFO | NLA_F_NESTED));
  std::memcpy(&inner, learning.data() + at + sizeof outer, sizeof inner);
  CHECK(inner.rta_type == IFLA_BRPORT_LEARNING);
  CHECK(inner.rta_len == sizeof inner + 1);
  CHECK(learning[at + sizeof outer + sizeof inner] == 0);

  // `ip link delete` of a hot-plugged interface's bridge: the link by index, nothing else.
  std::string deletion = net::delete_link(9, 15);
  std::memcpy(&header, deletion.data(), sizeof header);
  CHECK(header.nlmsg_type == RTM_DELLINK);
  CHECK(header.nlmsg_seq == 15);
  CHECK(header.nlmsg_len == NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg)));
  std::memcpy(&port, deletion.data() + NLMSG_HDRLEN, sizeof port);
  CHECK(port.ifi_index == 9);

  std::string route = net::add_route(net::Route{AF_INET, "", 0, "172.18.0.1", 12, 0, 0, 0, 0}, 10);
  auto parsed_route = net::parse_route(net::split_messages(route).front());
  REQUIRE(parsed_route);
  CHECK(parsed_route->gateway == "172.18.0.1");
  CHECK(parsed_route->destination.empty());
  CHECK(parsed_route->index == 12);
  CHECK(parsed_route->table == RT_TABLE_MAIN);

  // IPv6: the address usable at once (no duplicate address detection), the route of its family.
  std::string add6 = net::add_address(net::Address{12, net::address_family("fd00::2"), "fd00::2", 64, 0}, 13);
  ifaddrmsg info6{};
  std::memcpy(&info6, add6.data() + NLMSG_HDRLEN, sizeof info6);
  CHECK(info6.ifa_family == AF_INET6);
  CHECK((info6.ifa_flags & IFA_F_NODAD) != 0);
  std::memcpy(&info6, add.data() + NLMSG_HDRLEN, sizeof info6);
  CHECK(info6.ifa_flags == 0);  // IPv4 has no such detection
  auto route6 = net::parse_route(
      net::split_messages(net::add_route(net::Route{AF_INET6, "", 0, "fd00::1", 12, 0, 0, 0, 0}, 14)).front());
  REQUIRE(route6);
  CHECK(route6->family == AF_INET6);
  CHECK(route6->gateway == "fd00::1");
  CHECK(route6->scope == RT_SCOPE_UNIVERSE);
  CHECK(net::address_family("172.18.0.2") == AF_INET);
  CHECK(net::address_family("::") == AF_INET6);

  CHECK_THROWS_WITH(net::split_messages(datagram.substr(0, 20)), ContainsSubstring("malformed message"));
  CHECK_THROWS_WITH(net::parse_mac("02:42:zz:11:00:02"), ContainsSubstring("not a MAC address: \"02:42:zz:11:00:02\""));
  CHECK_THROWS_WITH(net::add_address(net::Address{1, AF_INET, "300.1.1.1", 8, 0}, 1),
                    ContainsSubstring("not an IP address: \"300.1.1.1\""));
}
