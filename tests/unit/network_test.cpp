// The VM's network planned from the container's (network_plan) and its NICs on QEMU's command line.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "common/error.hpp"
#include "container/runcvm-init/network_plan.hpp"
#include "container/runcvm-init/vm_command.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/network.hpp"
#include "net/netlink.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("the VM's network is planned from the container's", "[net][plan]") {
  std::vector<net::Link> links = {
      {1, "lo", "00:00:00:00:00:00", 65536, ARPHRD_LOOPBACK, 0, ""},
      {14, "eth1", "02:42:0a:4d:00:32", 1400, ARPHRD_ETHER, 0, "veth"},
      {12, "eth0", "02:42:ac:12:00:02", 1500, ARPHRD_ETHER, 0, "veth"},
  };
  std::vector<net::Address> addresses = {
      {1, AF_INET, "127.0.0.1", 8, RT_SCOPE_HOST},
      {12, AF_INET, "172.18.0.2", 16, RT_SCOPE_UNIVERSE},
      {12, AF_INET, "172.18.0.9", 16, RT_SCOPE_UNIVERSE},  // a second address is kept too
      {14, AF_INET, "10.77.0.50", 24, RT_SCOPE_UNIVERSE},
      {12, AF_INET6, "fd00::2", 64, RT_SCOPE_UNIVERSE},
      {12, AF_INET6, "fe80::42:acff:fe12:2", 64, RT_SCOPE_LINK},
  };
  std::vector<net::Route> routes = {
      {AF_INET, "", 0, "172.18.0.1", 12, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST},
      {AF_INET, "172.18.0.0", 16, "", 12, RT_TABLE_MAIN, RTPROT_KERNEL, RT_SCOPE_LINK, RTN_UNICAST},
      {AF_INET, "192.168.5.0", 24, "10.77.0.1", 14, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST},
      {AF_INET, "10.9.0.0", 16, "", 14, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_LINK, RTN_UNICAST},
      {AF_INET, "127.0.0.0", 8, "", 1, 255, RTPROT_KERNEL, RT_SCOPE_HOST, RTN_LOCAL},
      {AF_INET6, "", 0, "fd00::1", 12, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST},
      {AF_INET6, "fd00::", 64, "", 12, RT_TABLE_MAIN, RTPROT_KERNEL, RT_SCOPE_UNIVERSE, RTN_UNICAST},
      {AF_INET6, "fe80::", 64, "", 12, RT_TABLE_MAIN, RTPROT_KERNEL, RT_SCOPE_UNIVERSE, RTN_UNICAST},
      {AF_INET6, "2001:db8:9::", 48, "", 14, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST},
      {AF_INET6, "2001:db8:7::", 48, "fe80::1", 14, RT_TABLE_MAIN, RTPROT_RA, RT_SCOPE_UNIVERSE, RTN_UNICAST},
      {AF_INET6, "ff00::", 8, "", 12, 255, RTPROT_KERNEL, RT_SCOPE_UNIVERSE, RTN_MULTICAST},
  };
  std::string resolv = "nameserver 127.0.0.11\nsearch example.com\noptions ndots:0\n";
  auto plan = container_init::plan_network(links, addresses, routes, resolv, {"10.0.0.53", "10.0.0.54", "10.0.0.55"});
  REQUIRE(plan.network.interfaces.size() == 2);
  CHECK(plan.network.interfaces[0].name == "eth0");  // in index order, not dump order
  // IPv6 global addresses go to the VM too; link-local ones the VM's kernel makes from the MAC.
  CHECK(plan.network.interfaces[0].addresses ==
        std::vector<std::string>{"172.18.0.2/16", "172.18.0.9/16", "fd00::2/64"});
  CHECK(plan.network.interfaces[1].mtu == 1400);
  CHECK(plan.warnings.empty());
  CHECK(plan.dns_forwarder);
  CHECK(plan.network.resolv_conf ==
        "# runcvm: Docker's embedded DNS (127.0.0.11) through runcvm-init's forwarder, then the servers\n"
        "# it forwards other names to (its queries for them cannot leave the container's namespace)\n"
        "nameserver 169.254.77.1\nnameserver 10.0.0.53\nnameserver 10.0.0.54\nsearch example.com\n"
        "options ndots:0 timeout:1\n");
  // On-link routes first (the forwarder's, then the container's), then those through gateways.
  std::vector<std::string> shown;
  for (const auto& r : plan.network.routes)
    shown.push_back(r.destination + "/" + std::to_string(r.prefix) + ">" + r.gateway + "@" + r.device);
  // IPv6: the default route keeps its family as "::"; kernel and router-advertised routes are not copied.
  CHECK(shown == std::vector<std::string>{"169.254.77.1/32>@eth0", "10.9.0.0/16>@eth1", "2001:db8:9::/48>@eth1",
                                          "/0>172.18.0.1@eth0", "192.168.5.0/24>10.77.0.1@eth1", "::/0>fd00::1@eth0"});
  // The document the VM reads round-trips, and rejects what it does not know.
  std::string doc = handoff::to_json_text(plan.network);
  CHECK(handoff::to_json_text(handoff::parse_network(doc)) == doc);
  CHECK_THROWS_WITH(
      handoff::parse_network(R"({"version":2,"interfaces":[],"routes":[],"resolv_conf":"","host_side_mac":"","x":1})"),
      ContainsSubstring("network document: field `x`: unknown field"));
  // runcvm-init's address has a MAC of the container's own, which the VM pins.
  CHECK(plan.network.host_side_mac == "0a:42:ac:12:00:02");

  // The default bridge: the host's resolvers stay, no forwarder.
  auto bridge = container_init::plan_network(links, addresses, routes, "nameserver 10.0.0.53\n");
  CHECK_FALSE(bridge.dns_forwarder);
  CHECK(bridge.network.resolv_conf.empty());
  CHECK(bridge.network.host_side_mac.empty());
  // --network none: loopback only, nothing to wire.
  auto none = container_init::plan_network({links[0]}, {addresses[0]}, {}, resolv);
  CHECK(none.network.interfaces.empty());
  CHECK_FALSE(none.dns_forwarder);

  CHECK(container_init::container_side_mac("02:42:ac:12:00:02") == "06:42:ac:12:00:02");
  CHECK(container_init::host_side_mac("02:42:ac:12:00:02") == "0a:42:ac:12:00:02");
  CHECK(container_init::bridge_name(1) == "runcvm-br1");
}

TEST_CASE("each container interface becomes a virtio-net device with its MAC and MTU", "[net][qemu]") {
  handoff::Launch launch;
  launch.kernel.source = "bundle";
  launch.kernel.vmlinuz = "/k/vmlinuz";
  launch.qemu.accel = "tcg";
  container_init::BundleLayout bundle;
  std::vector<container_init::Nic> nics = {{5, "02:42:ac:12:00:02", 9000}, {6, "02:42:0a:4d:00:32", 1400}};
  std::string line;
  for (const auto& a : container_init::qemu_command(launch, bundle, false, {"/k/vmlinuz", launch.kernel.initrd}, nics))
    line += a + " ";
  CHECK(line.find("-netdev tap,id=net0,fd=5 -device "
                  "virtio-net-pci,id=nic0,netdev=net0,mac=02:42:ac:12:00:02,host_mtu=9000,romfile= "
                  "-netdev tap,id=net1,fd=6 -device "
                  "virtio-net-pci,id=nic1,netdev=net1,mac=02:42:0a:4d:00:32,host_mtu=1400,romfile=") !=
        std::string::npos);
}
