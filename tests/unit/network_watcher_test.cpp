#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.hpp"
#include "container/runcvm-init/network_watcher.hpp"
#include "container/runcvm-init/qmp.hpp"
#include "container/runcvm-init/vm_devices.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;
using container_init::NetworkChanges;
using container_init::WiredInterface;

namespace {

net::Link ethernet(int index, const std::string& name, const std::string& mac, std::string kind = "veth",
                   unsigned flags = IFF_UP) {
  return net::Link{index, name, mac, 1500, ARPHRD_ETHER, flags, std::move(kind)};
}

}  // namespace

TEST_CASE("a network connected while the VM runs is taken once Docker has finished with it", "[net][hotplug]") {
  // eth0 was wired at start: in the bridge runcvm-br0 with the tap runcvm-tap0, its address gone to the VM.
  std::vector<WiredInterface> wired = {{"eth0", 5, 0, false, "", {"172.18.0.2/16"}}};
  std::vector<net::Link> links = {{1, "lo", "", 65536, ARPHRD_LOOPBACK, IFF_UP, ""},
                                  ethernet(5, "eth0", "06:42:ac:12:00:02"),
                                  ethernet(6, "runcvm-br0", "06:42:ac:12:00:02", "bridge"),
                                  ethernet(7, "runcvm-tap0", "aa:bb:cc:dd:ee:ff", "tun"),
                                  ethernet(9, "eth1", "02:42:0a:4d:00:05")};
  std::vector<net::Route> routes = {
      {AF_INET, "10.77.0.0", 24, "", 9, RT_TABLE_MAIN, RTPROT_KERNEL, RT_SCOPE_LINK, RTN_UNICAST},
      {AF_INET, "10.99.0.0", 16, "10.77.0.1", 9, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST}};

  // Moved in and named, no address yet: Docker is not done.
  NetworkChanges changes = container_init::network_changes(wired, {}, links, {}, routes);
  CHECK(changes.added.interfaces.empty());
  CHECK(changes.removed.empty());

  // Addressed but still down: not yet either.
  std::vector<net::Address> addresses = {{9, AF_INET, "10.77.0.5", 24, RT_SCOPE_UNIVERSE}};
  links.back().flags = 0;
  CHECK(container_init::network_changes(wired, {}, links, addresses, routes).added.interfaces.empty());

  // Up with its address: eth1 is added, with its MAC, address and the route through it (not the kernel's).
  links.back().flags = IFF_UP;
  changes = container_init::network_changes(wired, {}, links, addresses, routes);
  REQUIRE(changes.added.interfaces.size() == 1);
  CHECK(changes.added.interfaces[0].name == "eth1");
  CHECK(changes.added.interfaces[0].mac == "02:42:0a:4d:00:05");
  CHECK(changes.added.interfaces[0].addresses == std::vector<std::string>{"10.77.0.5/24"});
  REQUIRE(changes.added.routes.size() == 1);
  CHECK(changes.added.routes[0].destination == "10.99.0.0");
  CHECK(changes.added.routes[0].device == "eth1");
  CHECK(changes.added.resolv_conf.empty());

  // Already wired, or turned down earlier: not again.
  CHECK(container_init::network_changes(wired, {9}, links, addresses, routes).added.interfaces.empty());
  wired.push_back({"eth1", 9, 1, true, "runcvm-slot0", {"10.77.0.5/24"}});
  CHECK(container_init::network_changes(wired, {}, links, addresses, routes).added.interfaces.empty());

  // docker network disconnect: the container-side link is gone; the wired interface is removed.
  links.pop_back();
  changes = container_init::network_changes(wired, {}, links, addresses, routes);
  REQUIRE(changes.removed.size() == 1);
  CHECK(changes.removed[0].name == "eth1");
  CHECK(changes.removed[0].slot == "runcvm-slot0");
  CHECK(changes.added.interfaces.empty());

  // Disconnect then connect again between two looks: the same name, a new link, seen as both.
  links.push_back(ethernet(12, "eth1", "02:42:0a:4d:00:07"));
  addresses.push_back({12, AF_INET, "10.77.0.7", 24, RT_SCOPE_UNIVERSE});
  changes = container_init::network_changes(wired, {}, links, addresses, routes);
  CHECK(changes.removed.size() == 1);
  REQUIRE(changes.added.interfaces.size() == 1);
  CHECK(changes.added.interfaces[0].addresses == std::vector<std::string>{"10.77.0.7/24"});
}

TEST_CASE("hot-plug slots: RUNCVM_QEMU_HOTPLUG_SLOTS root ports on q35, the root bus on pc, none on microvm",
          "[net][hotplug]") {
  CHECK(container_init::hotplug_slots("q35", handoff::Qemu{}.hotplug_slots) ==
        std::vector<std::string>{"runcvm-slot0", "runcvm-slot1"});
  CHECK(container_init::hotplug_slots("q35", 5).size() == 5);
  CHECK(container_init::hotplug_slots("q35", 0).empty());
  CHECK(container_init::hotplug_slots("pc", 2).empty());
  CHECK(container_init::hotplug_slots("microvm", 2).empty());
  CHECK(container_init::hotplug_card_id(3) == "hpnic3");
  CHECK(container_init::boot_card_id(0) == "nic0");
}

TEST_CASE("QEMU's monitor lines are read strictly and bounded", "[net][qmp][hostile]") {
  using Kind = container_init::QmpMessage::Kind;
  CHECK(container_init::parse_qmp_line(R"({"QMP": {"version": {}, "capabilities": []}})").kind == Kind::greeting);
  auto reply = container_init::parse_qmp_line(R"({"return": {}})");
  CHECK(reply.kind == Kind::reply);
  auto failure = container_init::parse_qmp_line(
      R"({"error": {"class": "GenericError", "desc": "Bus 'runcvm-slot0' does not support hotplugging"}})");
  CHECK(failure.kind == Kind::failure);
  CHECK(failure.body.get<std::string>() == "Bus 'runcvm-slot0' does not support hotplugging");
  auto event = container_init::parse_qmp_line(
      R"({"event": "DEVICE_DELETED", "data": {"device": "hpnic1", "path": "/machine/peripheral/hpnic1"}, "timestamp": {"seconds": 1, "microseconds": 2}})");
  CHECK(event.kind == Kind::event);
  CHECK(event.body["data"]["device"] == "hpnic1");

  // What a misbehaving QEMU might send: errors, not crashes or trusted garbage.
  CHECK(container_init::parse_qmp_line(R"({"error": 7})").body.get<std::string>() == "no reason given");
  CHECK(container_init::parse_qmp_line(R"({"error": {"desc": ")" + std::string(4096, 'x') + R"("}})")
            .body.get<std::string>()
            .size() == 512);
  CHECK_THROWS_WITH(container_init::parse_qmp_line("{\"return\": "), ContainsSubstring("not a JSON object"));
  CHECK_THROWS_WITH(container_init::parse_qmp_line("[1, 2]"), ContainsSubstring("not a JSON object"));
  CHECK_THROWS_WITH(container_init::parse_qmp_line(R"({"event": 5})"),
                    ContainsSubstring("neither a reply nor an event"));

  CHECK(container_init::qmp_command_line("device_del", {{"id", "hpnic1"}}) ==
        "{\"arguments\":{\"id\":\"hpnic1\"},\"execute\":\"device_del\"}\n");
  CHECK(container_init::qmp_command_line("qmp_capabilities", nlohmann::json::object()) ==
        "{\"execute\":\"qmp_capabilities\"}\n");
}

TEST_CASE("events the guest can make QEMU send do not crowd out DEVICE_DELETED", "[net][qmp][hostile]") {
  int ends[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
  UniqueFd qemu(ends[1]);
  auto send = [&](const std::string& text) {
    REQUIRE(::write(qemu.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  };
  // The greeting and the answer to qmp_capabilities, queued before the client reads them.
  send(R"({"QMP": {"version": {}, "capabilities": []}})"
       "\n"
       R"({"return": {}})"
       "\n");
  container_init::Qmp qmp{UniqueFd(ends[0])};
  // While a command runs: a guest's flood of balloon and clock events, then the unplug it awaited.
  std::string flood;
  for (int i = 0; i < 200; ++i)
    flood += i % 2 ? R"({"event": "RTC_CHANGE", "data": {"offset": 1}})"
                     "\n"
                   : R"({"event": "BALLOON_CHANGE", "data": {"actual": 1}})"
                     "\n";
  send(flood + R"({"event": "DEVICE_DELETED", "data": {"device": "hpnic1"}})"
               "\n"
               R"({"return": {}})"
               "\n");
  qmp.execute("device_del", {{"id", "hpnic1"}});
  CHECK(qmp.wait_for_device_deleted("hpnic1", std::chrono::milliseconds(0)));
}
