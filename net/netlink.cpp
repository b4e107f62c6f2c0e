#include "net/netlink.hpp"

#include <arpa/inet.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace runcvm::net {
namespace {

constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t(3); }

// Walks the rtattr list in `data`, calling visit(type, payload) for each attribute.
template <class Visit>
void for_each_attribute(std::string_view data, Visit visit) {
  std::size_t at = 0;
  while (auto attr = read_at<rtattr>(data, at)) {
    if (attr->rta_len < sizeof(rtattr) || attr->rta_len > data.size() - at) break;
    visit(static_cast<unsigned>(attr->rta_type & NLA_TYPE_MASK),
          data.substr(at + sizeof(rtattr), attr->rta_len - sizeof(rtattr)));
    at += align4(attr->rta_len);
  }
}

std::string address_text(int family, std::string_view bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  if ((family == AF_INET && bytes.size() != 4) || (family == AF_INET6 && bytes.size() != 16)) return "";
  if (!::inet_ntop(family, bytes.data(), text, sizeof text)) return "";
  return text;
}

std::string address_bytes(int family, const std::string& text) {
  unsigned char bytes[16];
  if (::inet_pton(family, text.c_str(), bytes) != 1) throw Error("not an IP address: " + quote(text));
  return std::string(reinterpret_cast<char*>(bytes), family == AF_INET ? 4 : 16);
}

}  // namespace

Address parse_cidr(const std::string& cidr, int index) {
  auto slash = cidr.find('/');
  std::string text = cidr.substr(0, slash);
  return Address{index, address_family(text), text, static_cast<unsigned>(std::stoul(cidr.substr(slash + 1))), 0};
}

int address_family(std::string_view address) {
  return address.find(':') == std::string_view::npos ? AF_INET : AF_INET6;
}

namespace {

std::uint32_t u32_of(std::string_view payload) { return read_at<std::uint32_t>(payload, 0).value_or(0); }

// A message of `type` with fixed part Info: that part and the attributes after it.
template <class Info>
std::optional<std::pair<Info, std::string_view>> fixed_and_attributes(std::string_view message, std::uint16_t type) {
  auto header = read_at<nlmsghdr>(message, 0);
  auto info = read_at<Info>(message, NLMSG_HDRLEN);
  if (!header || header->nlmsg_type != type || !info) return std::nullopt;
  std::size_t start = std::min(message.size(), NLMSG_HDRLEN + align4(sizeof(Info)));
  return std::pair{*info, message.substr(start)};
}

std::string_view without_nul(std::string_view text) {
  auto end = text.find('\0');
  return end == std::string_view::npos ? text : text.substr(0, end);
}

}  // namespace

std::vector<std::string_view> split_messages(std::string_view datagram) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < datagram.size()) {
    auto header = read_at<nlmsghdr>(datagram, at);
    if (!header || header->nlmsg_len < sizeof(nlmsghdr) || header->nlmsg_len > datagram.size() - at)
      throw Error("netlink: malformed message at byte " + std::to_string(at));
    out.push_back(datagram.substr(at, header->nlmsg_len));
    at += align4(header->nlmsg_len);
  }
  return out;
}

std::string format_mac(std::string_view bytes) {
  std::string out;
  char part[4];
  for (unsigned char b : bytes) {
    std::snprintf(part, sizeof part, out.empty() ? "%02x" : ":%02x", b);
    out += part;
  }
  return out;
}

std::string parse_mac(std::string_view text) {
  std::string bytes;
  std::size_t at = 0;
  for (int i = 0; i < 6; ++i) {
    if (at + 2 > text.size() || !std::isxdigit(static_cast<unsigned char>(text[at])) ||
        !std::isxdigit(static_cast<unsigned char>(text[at + 1])))
      throw Error("not a MAC address: " + quote(text) + " (expected six hex bytes like 02:42:ac:11:00:02)");
    bytes += static_cast<char>(std::stoi(std::string(text.substr(at, 2)), nullptr, 16));
    at += 2;
    if (i < 5) {
      if (at >= text.size() || text[at] != ':')
        throw Error("not a MAC address: " + quote(text) + " (expected six hex bytes like 02:42:ac:11:00:02)");
      ++at;
    }
  }
  if (at != text.size())
    throw Error("not a MAC address: " + quote(text) + " (expected six hex bytes like 02:42:ac:11:00:02)");
  return bytes;
}

std::optional<Link> parse_link(std::string_view message) {
  auto parts = fixed_and_attributes<ifinfomsg>(message, RTM_NEWLINK);
  if (!parts) return std::nullopt;
  const auto& [info, attributes] = *parts;
  Link link{info.ifi_index, "", "", 0, info.ifi_type, info.ifi_flags, ""};
  for_each_attribute(attributes, [&](unsigned type, std::string_view payload) {
    if (type == IFLA_IFNAME)
      link.name = std::string(without_nul(payload));
    else if (type == IFLA_ADDRESS)
      link.mac = format_mac(payload);
    else if (type == IFLA_MTU)
      link.mtu = u32_of(payload);
    else if (type == IFLA_LINKINFO)
      for_each_attribute(payload, [&](unsigned inner, std::string_view value) {
        if (inner == IFLA_INFO_KIND) link.kind = std::string(without_nul(value));
      });
  });
  return link;
}

std::optional<Address> parse_address(std::string_view message) {
  auto parts = fixed_and_attributes<ifaddrmsg>(message, RTM_NEWADDR);
  if (!parts) return std::nullopt;
  const auto& [info, attributes] = *parts;
  Address address{static_cast<int>(info.ifa_index), info.ifa_family, "", info.ifa_prefixlen, info.ifa_scope};
  std::string local, peer;
  for_each_attribute(attributes, [&](unsigned type, std::string_view payload) {
    if (type == IFA_LOCAL)
      local = address_text(address.family, payload);
    else if (type == IFA_ADDRESS)
      peer = address_text(address.family, payload);
  });
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs only on point-to-point links.
  address.address = local.empty() ? peer : local;
  return address;
}

std::optional<Route> parse_route(std::string_view message) {
  auto parts = fixed_and_attributes<rtmsg>(message, RTM_NEWROUTE);
  if (!parts) return std::nullopt;
  const auto& [info, attributes] = *parts;
  Route route{info.rtm_family, "",           info.rtm_dst_len, "", 0, info.rtm_table, info.rtm_protocol,
              info.rtm_scope,  info.rtm_type};
  for_each_attribute(attributes, [&](unsigned type, std::string_view payload) {
    if (type == RTA_DST)
      route.destination = address_text(route.family, payload);
    else if (type == RTA_GATEWAY)
      route.gateway = address_text(route.family, payload);
    else if (type == RTA_OIF)
      route.index = static_cast<int>(u32_of(payload));
    else if (type == RTA_TABLE)
      route.table = u32_of(payload);
  });
  return route;
}

Message::Message(std::uint16_t type, std::uint16_t flags) {
  nlmsghdr header{};
  header.nlmsg_type = type;
  header.nlmsg_flags = flags;
  append(&header, sizeof header);
}

void Message::append(const void* data, std::size_t size) {
  bytes_.append(static_cast<const char*>(data), size);
  bytes_.resize(align4(bytes_.size()), '\0');
}

Message& Message::attribute(std::uint16_t type, const void* data, std::size_t size) {
  rtattr attr{static_cast<unsigned short>(sizeof(rtattr) + size), type};
  bytes_.append(reinterpret_cast<const char*>(&attr), sizeof attr);
  append(data, size);
  return *this;
}

Message& Message::attribute(std::uint16_t type, std::string_view text) {
  std::string with_nul(text);
  with_nul += '\0';
  return attribute(type, with_nul.data(), with_nul.size());
}

Message& Message::attribute_u32(std::uint16_t type, std::uint32_t value) {
  return attribute(type, &value, sizeof value);
}

std::size_t Message::begin_nested(std::uint16_t type) {
  std::size_t start = bytes_.size();
  rtattr attr{sizeof(rtattr), static_cast<unsigned short>(type | NLA_F_NESTED)};
  bytes_.append(reinterpret_cast<const char*>(&attr), sizeof attr);
  return start;
}

Message& Message::end_nested(std::size_t start) {
  auto length = static_cast<unsigned short>(bytes_.size() - start);
  std::memcpy(bytes_.data() + start, &length, sizeof length);
  return *this;
}

std::string Message::finish(std::uint32_t sequence) const {
  std::string out = bytes_;
  auto length = static_cast<std::uint32_t>(out.size());
  std::memcpy(out.data() + offsetof(nlmsghdr, nlmsg_len), &length, sizeof length);
  std::memcpy(out.data() + offsetof(nlmsghdr, nlmsg_seq), &sequence, sizeof sequence);
  return out;
}

std::string dump_request(std::uint16_t type, int family, std::uint32_t sequence) {
  Message m(type, NLM_F_REQUEST | NLM_F_DUMP);
  if (type == RTM_GETLINK) {
    ifinfomsg info{};
    info.ifi_family = static_cast<unsigned char>(family);
    m.fixed(info);
  } else if (type == RTM_GETADDR) {
    ifaddrmsg info{};
    info.ifa_family = static_cast<unsigned char>(family);
    m.fixed(info);
  } else {
    rtmsg info{};
    info.rtm_family = static_cast<unsigned char>(family);
    m.fixed(info);
  }
  return m.finish(sequence);
}

std::string set_link(const LinkChange& change, std::uint32_t sequence) {
  Message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg info{};
  info.ifi_family = AF_UNSPEC;
  info.ifi_index = change.index;
  if (change.up) {
    // ifi_change masks which flags this message sets: only IFF_UP, the others stay.
    info.ifi_flags = *change.up ? IFF_UP : 0;
    info.ifi_change = IFF_UP;
  }
  m.fixed(info);
  if (change.name) m.attribute(IFLA_IFNAME, *change.name);
  if (change.mac) {
    std::string bytes = parse_mac(*change.mac);
    m.attribute(IFLA_ADDRESS, bytes.data(), bytes.size());
  }
  if (change.mtu) m.attribute_u32(IFLA_MTU, *change.mtu);
  if (change.master) m.attribute_u32(IFLA_MASTER, static_cast<std::uint32_t>(*change.master));
  return m.finish(sequence);
}

std::string new_bridge(const std::string& name, std::uint32_t sequence) {
  Message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  m.fixed(ifinfomsg{});
  m.attribute(IFLA_IFNAME, name);
  std::size_t info = m.begin_nested(IFLA_LINKINFO);
  m.attribute(IFLA_INFO_KIND, std::string_view("bridge"));
  m.end_nested(info);
  return m.finish(sequence);
}

std::string delete_link(int index, std::uint32_t sequence) {
  Message m(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg info{};
  info.ifi_index = index;
  m.fixed(info);
  return m.finish(sequence);
}

std::string stop_bridge_port_learning(int index, std::uint32_t sequence) {
  Message m(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg info{};
  info.ifi_family = AF_BRIDGE;  // the bridge's own RTM_SETLINK handler reads the port's settings
  info.ifi_index = index;
  m.fixed(info);
  std::size_t port = m.begin_nested(IFLA_PROTINFO);
  std::uint8_t off = 0;
  m.attribute(IFLA_BRPORT_LEARNING, &off, sizeof off);
  m.end_nested(port);
  return m.finish(sequence);
}

namespace {

std::string address_message(std::uint16_t type, std::uint16_t flags, const Address& address, std::uint32_t sequence) {
  Message m(type, flags);
  ifaddrmsg info{};
  info.ifa_family = static_cast<unsigned char>(address.family);
  info.ifa_prefixlen = static_cast<unsigned char>(address.prefix);
  info.ifa_scope = static_cast<unsigned char>(address.scope);
  info.ifa_index = static_cast<unsigned>(address.index);
  // An IPv6 address is tentative until duplicate address detection ends (a second or more), and
  // unusable meanwhile; the addresses given here are Docker's, already unique on their network.
  if (type == RTM_NEWADDR && address.family == AF_INET6) info.ifa_flags = IFA_F_NODAD;
  m.fixed(info);
  std::string bytes = address_bytes(address.family, address.address);
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on point-to-point links
  // and the same address elsewhere. `ip addr` sends both, and the kernel matches a removal on
  // IFA_LOCAL, so both are sent, equal.
  m.attribute(IFA_LOCAL, bytes.data(), bytes.size());
  m.attribute(IFA_ADDRESS, bytes.data(), bytes.size());
  return m.finish(sequence);
}

}  // namespace

// CREATE|REPLACE: adding an address the link already has is not an error (a restarted container).
std::string add_address(const Address& address, std::uint32_t sequence) {
  return address_message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, address, sequence);
}

std::string remove_address(const Address& address, std::uint32_t sequence) {
  return address_message(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, address, sequence);
}

std::string add_route(const Route& route, std::uint32_t sequence) {
  Message m(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  rtmsg info{};
  info.rtm_family = static_cast<unsigned char>(route.family);
  info.rtm_dst_len = static_cast<unsigned char>(route.prefix);
  info.rtm_table = RT_TABLE_MAIN;
  info.rtm_protocol = RTPROT_BOOT;  // as `ip route add` marks a route set by hand, not by a routing daemon
  // IPv6 has no route scopes: the kernel wants universe there.
  info.rtm_scope = route.gateway.empty() && route.family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  info.rtm_type = RTN_UNICAST;
  m.fixed(info);
  if (route.prefix > 0) {
    std::string bytes = address_bytes(route.family, route.destination);
    m.attribute(RTA_DST, bytes.data(), bytes.size());
  }
  if (!route.gateway.empty()) {
    std::string bytes = address_bytes(route.family, route.gateway);
    m.attribute(RTA_GATEWAY, bytes.data(), bytes.size());
  }
  m.attribute_u32(RTA_OIF, static_cast<std::uint32_t>(route.index));
  return m.finish(sequence);
}

std::string add_permanent_neighbour(const Neighbour& neighbour, std::uint32_t sequence) {
  Message m(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  ndmsg info{};
  info.ndm_family = static_cast<unsigned char>(neighbour.family);
  info.ndm_ifindex = neighbour.index;
  info.ndm_state = NUD_PERMANENT;
  m.fixed(info);
  std::string address = address_bytes(neighbour.family, neighbour.address);
  m.attribute(NDA_DST, address.data(), address.size());
  std::string mac = parse_mac(neighbour.mac);
  m.attribute(NDA_LLADDR, mac.data(), mac.size());
  return m.finish(sequence);
}

namespace {

// The kernel fills a dump's datagrams up to NLMSG_GOODSIZE (a page, at most 8 KiB) and an
// acknowledgement carries at most the request back: 64 KiB holds any datagram it sends.
constexpr std::size_t kDatagramBuffer = 1 << 16;

// One datagram; -1 when interrupted (read again). MSG_TRUNC makes recv report a datagram's whole
// length, so one longer than the buffer is an error rather than messages cut short.
ssize_t receive(int socket, std::string& buffer, const std::string& what) {
  ssize_t n = ::recv(socket, buffer.data(), buffer.size(), MSG_TRUNC);
  if (n < 0 && errno == EINTR) return -1;
  if (n < 0) throw system_error("reading", what, errno);
  if (static_cast<std::size_t>(n) > buffer.size())
    throw Error("reading " + what + ": a netlink datagram of " + std::to_string(n) + " bytes, more than " +
                std::to_string(buffer.size()));
  return n;
}

}  // namespace

Netlink::Netlink() : socket_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
  if (!socket_) throw system_error("opening", "a netlink socket", errno);
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  if (::bind(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw system_error("binding", "a netlink socket", errno);
}

std::vector<std::string> Netlink::dump(std::uint16_t type, int family) {
  std::uint32_t sequence = next_sequence();
  std::string request = dump_request(type, family, sequence);
  if (::send(socket_.get(), request.data(), request.size(), 0) < 0)
    throw system_error("sending", "a netlink dump request", errno);
  std::vector<std::string> out;
  std::string buffer(kDatagramBuffer, '\0');
  for (;;) {
    ssize_t n = receive(socket_.get(), buffer, "a netlink dump");
    if (n < 0) continue;
    for (auto message : split_messages(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) {
      auto header = read_at<nlmsghdr>(message, 0);
      if (header->nlmsg_seq != sequence) continue;
      if (header->nlmsg_type == NLMSG_DONE) return out;
      if (header->nlmsg_type == NLMSG_ERROR) {
        auto error = read_at<nlmsgerr>(message, NLMSG_HDRLEN);
        throw system_error("dumping", "netlink", error ? -error->error : EIO);
      }
      out.emplace_back(message);
    }
  }
}

void Netlink::request(const std::string& message, std::string_view what) {
  auto sent = read_at<nlmsghdr>(message, 0);
  if (::send(socket_.get(), message.data(), message.size(), 0) < 0) throw system_error("sending", what, errno);
  std::string buffer(kDatagramBuffer, '\0');
  for (;;) {
    ssize_t n = receive(socket_.get(), buffer, "the answer to " + std::string(what));
    if (n < 0) continue;
    for (auto reply : split_messages(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) {
      auto header = read_at<nlmsghdr>(reply, 0);
      if (header->nlmsg_seq != sent->nlmsg_seq || header->nlmsg_type != NLMSG_ERROR) continue;
      auto error = read_at<nlmsgerr>(reply, NLMSG_HDRLEN);
      if (!error) throw Error(std::string(what) + ": malformed netlink acknowledgement");
      if (error->error != 0) throw Error(std::string(what) + ": " + std::strerror(-error->error));
      return;
    }
  }
}

std::vector<Link> Netlink::links() {
  std::vector<Link> out;
  for (const auto& m : dump(RTM_GETLINK, AF_UNSPEC))
    if (auto link = parse_link(m)) out.push_back(*link);
  return out;
}

std::vector<Address> Netlink::addresses(int family) {
  std::vector<Address> out;
  for (const auto& m : dump(RTM_GETADDR, family))
    if (auto address = parse_address(m)) out.push_back(*address);
  return out;
}

std::vector<Route> Netlink::routes(int family) {
  std::vector<Route> out;
  for (const auto& m : dump(RTM_GETROUTE, family))
    if (auto route = parse_route(m)) out.push_back(*route);
  return out;
}

}  // namespace runcvm::net
