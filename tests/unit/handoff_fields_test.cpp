// The handoff documents are written and read from one field list each (handoff/fields.hpp): a
// document with every optional field present reads back to the same text, a field missing from
// the reader's side would be refused as unknown, and the checks a list carries still run.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "handoff/launch.hpp"
#include "handoff/network.hpp"

namespace runcvm {
namespace {

using Catch::Matchers::ContainsSubstring;
using Json = nlohmann::ordered_json;

// A launch document with every optional field of every type filled in.
handoff::Launch full_launch() {
  handoff::Launch l;
  l.process.args = {"sh", "-c", "true"};
  l.process.env = {"PATH=/bin"};
  l.process.umask = 022;
  l.process.console_size = handoff::ConsoleSize{40, 120};
  l.process.rlimits = {{"RLIMIT_NOFILE", 1024, 4096}};
  l.process.capabilities = handoff::Capabilities{{"CAP_CHOWN"}, {"CAP_CHOWN"}, {"CAP_CHOWN"}, {}, {}};
  l.process.oom_score_adj = -500;
  l.kernel = {"image", "", "6.1", "/boot/vmlinuz", "/boot/initrd.img", "/lib/modules/6.1", "quiet", true};
  l.mounts = {{"/data", true}};
  l.sockets = {"/var/run/docker.sock"};
  l.tmpfs = {{"/scratch", {"size=1m"}}};
  l.sysctls = {{"net.ipv4.ip_forward", "1"}};
  l.pids_limit = 100;
  l.disks = {{"/disks/a.img", "/var/lib/docker", "ext4", 1ull << 30}};
  l.qemu.vnc_display = 3;
  l.dns_upstreams = {"10.0.0.53"};
  l.breakpoints = {"postnet"};
  return l;
}

// Every key of a JSON object and of the objects below it, as paths ("process.console_size.width");
// not the keys of a map (sysctls), which are data.
void collect_keys(const Json& value, const std::string& path, std::vector<std::string>& out) {
  if (value.is_object() && path != "sysctls")
    for (const auto& [key, child] : value.items()) {
      std::string here = path.empty() ? key : path + "." + key;
      out.push_back(here);
      collect_keys(child, here, out);
    }
  else if (value.is_array() && !value.empty())
    collect_keys(value.front(), path + "[0]", out);
}

TEST_CASE("every field of the launch document is read back from what was written", "[handoff][fields]") {
  std::string text = handoff::to_json_text(full_launch());
  CHECK(handoff::to_json_text(handoff::parse_launch(text)) == text);
  CHECK(handoff::parse_process(handoff::process_to_json_text(full_launch().process)).console_size ==
        handoff::ConsoleSize{40, 120});

  // Each field is required by the reader: taking it away is refused by name (optional ones may
  // go). Nothing is written that the reader does not take, or it would be refused as unknown.
  const std::vector<std::string> optional = {
      "process.umask", "process.oom_score_adj", "process.console_size", "process.capabilities",
      "pids_limit",    "disks[0].size_bytes",   "qemu.vnc_display"};
  std::vector<std::string> keys;
  Json doc = Json::parse(text);
  collect_keys(doc, "", keys);
  CHECK(keys.size() > 50);
  for (const auto& path : keys) {
    if (path == "version") continue;
    Json copy = doc;
    Json* parent = &copy;
    std::string last = path;
    for (std::size_t dot; (dot = last.find('.')) != std::string::npos; last = last.substr(dot + 1)) {
      std::string step = last.substr(0, dot);
      if (step.ends_with("[0]"))
        parent = &(*parent)[step.substr(0, step.size() - 3)][0];
      else
        parent = &(*parent)[step];
    }
    if (last.ends_with("[0]")) continue;  // a list's item is not a field
    parent->erase(last);
    bool is_optional = std::find(optional.begin(), optional.end(), path) != optional.end();
    INFO(path);
    if (is_optional)
      CHECK_NOTHROW(handoff::parse_launch(copy.dump()));
    else
      CHECK_THROWS_WITH(handoff::parse_launch(copy.dump()), ContainsSubstring("`" + path + "`: is required"));
  }
}

TEST_CASE("the checks a field list carries still run", "[handoff][fields]") {
  Json doc = Json::parse(handoff::to_json_text(full_launch()));
  Json bad = doc;
  bad["qemu"]["hotplug_slots"] = 9;
  CHECK_THROWS_WITH(handoff::parse_launch(bad.dump()), ContainsSubstring("qemu.hotplug_slots is 9, more than 8"));
  bad = doc;
  bad["virtiofs_cache"] = "always,writeback";
  CHECK_THROWS_WITH(handoff::parse_launch(bad.dump()), ContainsSubstring("expected auto, always or none"));
  bad = doc;
  bad["process"]["args"] = Json::array();
  CHECK_THROWS_WITH(handoff::parse_launch(bad.dump()), "launch document: field `process.args`: must not be empty");
  // A list of integers takes integers that fit, as a single integer field does.
  for (const auto& [item, complaint] :
       std::vector<std::pair<Json, std::string>>{{true, "has the wrong type: true"},
                                                 {1.5, "has the wrong type: 1.5"},
                                                 {4294967301ull, "is out of range: 4294967301"},
                                                 {-1, "is out of range: -1"}}) {
    bad = doc;
    bad["process"]["additional_gids"] = Json::array({27, item});
    CHECK_THROWS_WITH(handoff::parse_launch(bad.dump()),
                      "launch document: field `process.additional_gids[1]`: " + complaint);
  }
  bad = doc;
  bad["process"]["additional_gids"] = 27;
  CHECK_THROWS_WITH(handoff::parse_launch(bad.dump()),
                    ContainsSubstring("`process.additional_gids`: has the wrong type"));
  bad = doc;
  bad["process"]["console_size"]["depth"] = 1;
  CHECK_THROWS_WITH(handoff::parse_launch(bad.dump()),
                    "launch document: field `process.console_size.depth`: unknown field");
}

TEST_CASE("the network document reads back what was written", "[handoff][fields]") {
  handoff::Network n;
  n.interfaces = {{"eth0", "02:42:ac:11:00:02", 1500, {"172.17.0.2/16"}}};
  n.routes = {{"", 0, "172.17.0.1", "eth0"}};
  n.resolv_conf = "nameserver 169.254.77.1\n";
  n.host_side_mac = "02:00:00:00:00:01";
  std::string text = handoff::to_json_text(n);
  CHECK(handoff::to_json_text(handoff::parse_network(text)) == text);
  Json doc = Json::parse(text);
  doc["routes"][0].erase("gateway");
  CHECK_THROWS_WITH(handoff::parse_network(doc.dump()), "network document: field `routes[0].gateway`: is required");
}

}  // namespace
}  // namespace runcvm
