#include "handoff/network.hpp"

#include "handoff/fields.hpp"

namespace runcvm::handoff::detail {

template <>
struct Fields<Interface> {
  static constexpr std::tuple list{field("name", &Interface::name), field("mac", &Interface::mac),
                                   field("mtu", &Interface::mtu), field("addresses", &Interface::addresses)};
};

template <>
struct Fields<NetworkRoute> {
  static constexpr std::tuple list{field("destination", &NetworkRoute::destination),
                                   field("prefix", &NetworkRoute::prefix), field("gateway", &NetworkRoute::gateway),
                                   field("device", &NetworkRoute::device)};
};

// The version is read and written apart (Reader::version), before these.
template <>
struct Fields<Network> {
  static constexpr std::size_t kMembersApart = 1;
  static constexpr std::tuple list{field("interfaces", &Network::interfaces), field("routes", &Network::routes),
                                   field("resolv_conf", &Network::resolv_conf),
                                   field("host_side_mac", &Network::host_side_mac)};
};

}  // namespace runcvm::handoff::detail

namespace runcvm::handoff {

namespace {
constexpr const char* kDocument = "network document";
}  // namespace

std::string to_json_text(const Network& network) {
  detail::Json out = {{"version", network.version}};
  detail::write_fields(out, network);
  return out.dump(2) + "\n";
}

Network parse_network(std::string_view json_text) {
  detail::Json root = detail::parse_json(json_text, kDocument);
  detail::Reader r(root, "", kDocument);
  int version = r.version("version", kNetworkVersion);
  Network network = detail::read_object<Network>(r);
  network.version = version;
  r.finish();
  return network;
}

}  // namespace runcvm::handoff
