// The KVM verdict (handoff/kvm_verdict.hpp): what a verdict holds for, how strictly a file is
// read (it comes from another container's runcvm-init), and where the runtime offers the
// directory (only where KVM may be tried).
#include <catch2/catch_test_macros.hpp>

#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "handoff/kvm_verdict.hpp"
#include "handoff/launch.hpp"
#include "handoff/state_directory.hpp"
#include "runtime/create_transform.hpp"

using namespace runcvm;
using Json = nlohmann::json;

namespace {

handoff::KvmVerdictKey sample_key() {
  return {"0f3c9d6e-2b1a-4c55-9e0f-7d1b2a3c4d5e", "10:232", "64768:1311:60123456:1764201600123456789",
          "64768:2001:9123456:1764201600000000000"};
}

bool mounts_verdicts(const runtime::CreateResult& result) {
  for (const auto& mount : result.spec["mounts"])
    if (mount.value("destination", "") == handoff::kKvmVerdictDirectory) {
      CHECK(mount["source"] == handoff::kKvmVerdictHostDirectory);
      CHECK(mount["options"] == Json::array({"rbind", "nosuid", "nodev", "noexec"}));
      return true;
    }
  return false;
}

runtime::CreateResult create(std::optional<runtime::DeviceNumber> host_kvm, bool kvm_device_in_spec,
                             const std::string& accel = "") {
  runtime::CreateInput input;
  input.spec = Json::parse(read_file(fs::path(RUNCVM_SOURCE_DIR) / "tests/runtime/golden/docker-plain/in.json"));
  if (!accel.empty()) input.spec["process"]["env"].push_back("RUNCVM_QEMU_ACCEL=" + accel);
  if (kvm_device_in_spec)  // docker run --device /dev/null:/dev/kvm
    input.spec["linux"]["devices"] = Json::array({{{"path", "/dev/kvm"}, {"type", "c"}, {"major", 1}, {"minor", 3}}});
  input.host.kvm = host_kvm;
  input.host.tun = runtime::DeviceNumber{10, 200};
  input.host.bundle_root = "/opt/runcvm";
  input.image.os_id = "debian";
  input.bundle.kernels["debian"] = {{"6.1.0-56-amd64"}, "6.1.0-56-amd64", {}};
  input.launch_file = "/run/runcvm-launch.json";
  return runtime::transform_create(input);
}

}  // namespace

TEST_CASE("a KVM failure round-trips and names its file by its whole key", "[kvm]") {
  handoff::KvmFailure failure{sample_key(), "QEMU exited while starting under KVM", 1764201600};
  auto back = handoff::parse_kvm_failure(handoff::to_json_text(failure));
  REQUIRE(back);
  CHECK(back->key == failure.key);
  CHECK(back->reason == failure.reason);
  CHECK(back->recorded_at == failure.recorded_at);
  // The file's format: the key's fields at the top level, in this order (verdicts written by an
  // earlier runcvm since the host started are read).
  std::vector<std::string> keys;
  auto written = nlohmann::ordered_json::parse(handoff::to_json_text(failure));
  for (const auto& [key, value] : written.items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"version", "boot_id", "device", "qemu", "kernel", "kvm_boots", "reason",
                                         "recorded_at"});

  std::string name = handoff::kvm_verdict_file_name(sample_key());
  CHECK(name.size() == 21);
  CHECK(name.find_first_not_of("0123456789abcdef") == 16);
  CHECK(name.substr(16) == ".json");
  // Each part of the key asks again: a reboot, another device, another bundle, another kernel.
  for (int part = 0; part < 4; ++part) {
    handoff::KvmVerdictKey other = sample_key();
    std::string* fields[] = {&other.boot_id, &other.device, &other.qemu, &other.kernel};
    *fields[part] += "x";
    CHECK(handoff::kvm_verdict_file_name(other) != name);
  }
}

TEST_CASE("a verdict file that is not a whole, well-formed failure is no verdict", "[kvm][hostile]") {
  Json good = Json::parse(handoff::to_json_text({sample_key(), "not booted within 10 s", 1}));
  auto variant = [&](auto change) {
    Json j = good;
    change(j);
    return handoff::parse_kvm_failure(j.dump());
  };
  CHECK(handoff::parse_kvm_failure(good.dump()));
  CHECK_FALSE(handoff::parse_kvm_failure(""));
  CHECK_FALSE(handoff::parse_kvm_failure("{"));
  CHECK_FALSE(handoff::parse_kvm_failure(good.dump().substr(0, 40)));
  CHECK_FALSE(handoff::parse_kvm_failure("[1,2,3]"));
  CHECK_FALSE(variant([](Json& j) { j["version"] = 2; }));
  CHECK_FALSE(variant([](Json& j) { j["kvm_boots"] = true; }));
  CHECK_FALSE(variant([](Json& j) { j["boot_id"] = 7; }));
  CHECK_FALSE(variant([](Json& j) { j.erase("kernel"); }));
  CHECK_FALSE(variant([](Json& j) { j["extra"] = "x"; }));
  CHECK_FALSE(variant([](Json& j) { j["reason"] = std::string(handoff::kKvmVerdictMaxBytes, 'a'); }));
}

TEST_CASE("the runtime offers the verdict directory only where KVM may be tried", "[kvm]") {
  CHECK(mounts_verdicts(create(runtime::DeviceNumber{10, 232}, false)));
  CHECK(mounts_verdicts(create(std::nullopt, true)));  // a /dev/kvm the operator passed
  CHECK_FALSE(mounts_verdicts(create(std::nullopt, false)));
  CHECK_FALSE(mounts_verdicts(create(runtime::DeviceNumber{10, 232}, false, "tcg")));
  CHECK_FALSE(mounts_verdicts(create(runtime::DeviceNumber{10, 232}, false, "kvm")));
}

TEST_CASE("only runcvm's own VM may leave a verdict: nothing the image's ENV chose", "[handoff][kvm]") {
  handoff::Launch launch;
  CHECK(handoff::kvm_verdict_applies(launch));
  launch.qemu.accel = "kvm";  // the operator's, and no verdict is read with it anyway
  CHECK(handoff::kvm_verdict_applies(launch));
  auto changed = [](auto change) {
    handoff::Launch l;
    change(l);
    return handoff::kvm_verdict_applies(l);
  };
  CHECK_FALSE(changed([](handoff::Launch& l) { l.kernel.append = "nokaslr"; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.qemu.cpu = "Skylake-Server"; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.qemu.machine = "microvm"; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.qemu.usb = true; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.qemu.vnc_display = 3; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.qemu.hotplug_slots = 8; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.qemu.bios_debug = true; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.hugetlb = true; }));
  CHECK_FALSE(changed([](handoff::Launch& l) { l.display_mode = "vnc"; }));
}
