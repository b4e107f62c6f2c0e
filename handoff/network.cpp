#include "handoff/network.hpp"

#include "common/error.hpp"
#include "handoff/json_reader.hpp"

namespace runcvm::handoff {

using detail::Json;
using detail::Reader;

std::string to_json_text(const Network& n) {
  Json interfaces = Json::array();
  for (const auto& i : n.interfaces)
    interfaces.push_back({{"name", i.name}, {"mac", i.mac}, {"mtu", i.mtu}, {"addresses", i.addresses}});
  Json routes = Json::array();
  for (const auto& r : n.routes)
    routes.push_back(
        {{"destination", r.destination}, {"prefix", r.prefix}, {"gateway", r.gateway}, {"device", r.device}});
  Json out = {{"version", n.version},
              {"interfaces", interfaces},
              {"routes", routes},
              {"resolv_conf", n.resolv_conf},
              {"host_side_mac", n.host_side_mac}};
  return out.dump(2) + "\n";
}

Network parse_network(std::string_view json_text) {
  Json root = detail::parse_json(json_text, "network document");
  Reader r(root, "", "network document");
  Network n;
  n.version = r.version("version", kNetworkVersion);
  n.interfaces = detail::read_list<Interface>(r, "interfaces", [](Reader& i) {
    return Interface{i.required<std::string>("name"), i.required<std::string>("mac"), i.required<unsigned>("mtu"),
                     i.required<std::vector<std::string>>("addresses")};
  });
  n.routes = detail::read_list<NetworkRoute>(r, "routes", [](Reader& route) {
    return NetworkRoute{route.required<std::string>("destination"), route.required<unsigned>("prefix"),
                        route.required<std::string>("gateway"), route.required<std::string>("device")};
  });
  n.resolv_conf = r.required<std::string>("resolv_conf");
  n.host_side_mac = r.required<std::string>("host_side_mac");
  r.finish();
  return n;
}

}  // namespace runcvm::handoff
