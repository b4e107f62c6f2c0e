// Golden files for the create transform: tests/runtime/golden/<case>/ holds the input spec
// (in.json, or `base` naming another case whose in.json is used), optional `env` lines appended
// to process.env, optional facts.json, and the expected outcome: expected.json (the spec) and
// launch.json (the handoff document), or error.txt (text the one-line error must contain).
// RUNCVM_UPDATE_GOLDEN=1 rewrites expected.json and launch.json from the current transform.
#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/file.hpp"
#include "runtime/create_transform.hpp"

using namespace runcvm;
using namespace runcvm::runtime;
using Json = nlohmann::json;

namespace {

const fs::path kGolden = fs::path(RUNCVM_SOURCE_DIR) / "tests/runtime/golden";

std::optional<DeviceNumber> device(const Json& value) {
  if (value.is_null()) return std::nullopt;
  return DeviceNumber{value.at(0).get<unsigned>(), value.at(1).get<unsigned>()};
}

// Facts a test case states; the defaults describe a host without KVM whose bundle has a Debian
// and an Alpine kernel, and an image without a kernel of its own.
CreateInput input_for(const fs::path& dir) {
  CreateInput input;
  fs::path spec_file = dir / "in.json";
  if (fs::exists(dir / "base")) {
    std::string base = read_file(dir / "base");
    spec_file = kGolden / base.substr(0, base.find('\n')) / "in.json";
  }
  input.spec = Json::parse(read_file(spec_file));
  if (fs::exists(dir / "env")) {
    std::string env = read_file(dir / "env");
    for (size_t start = 0, end; start < env.size(); start = end + 1) {
      end = env.find('\n', start);
      if (end == std::string::npos) end = env.size();
      if (end > start) input.spec["process"]["env"].push_back(env.substr(start, end - start));
    }
  }
  Json facts = fs::exists(dir / "facts.json") ? Json::parse(read_file(dir / "facts.json")) : Json::object();
  Json host = facts.value("host", Json::object());
  input.host.kvm = device(host.value("kvm", Json()));
  input.host.tun = device(host.value("tun", Json::array({10, 200})));
  input.host.cpus = host.value("cpus", 4u);
  input.host.bundle_root = host.value("bundle_root", "/opt/runcvm");
  input.host.dns_servers = host.value("dns_servers", std::vector<std::string>{"10.0.0.53"});
  for (const auto& source : host.value("socket_sources", std::vector<std::string>{}))
    input.host.socket_sources.insert(source);
  Json image = facts.value("image", Json::object());
  if (image.contains("kernel"))
    input.image.kernel = ImageKernel{image["kernel"]["vmlinuz"], image["kernel"]["initrd"], image["kernel"]["version"]};
  input.image.os_id = image.value("os_id", "alpine");
  input.image.os_like = image.value("os_like", std::vector<std::string>{});
  Json bundle = facts.value("bundle", Json{{"debian", {{"versions", {"6.1.0-56-amd64"}}, {"latest", "6.1.0-56-amd64"}}},
                                           {"alpine", {{"versions", {"6.6.31-0-virt"}}, {"latest", "6.6.31-0-virt"}}}});
  for (const auto& [dist, entry] : bundle.items())
    input.bundle.kernels[dist] = {entry["versions"].get<std::vector<std::string>>(), entry["latest"].get<std::string>(),
                                  entry.value("root_without_initramfs", std::set<std::string>{})};
  input.bundle.missing = facts.value("bundle_missing", std::vector<std::string>{});
  input.launch_file = "/run/containerd/bundle/runcvm-launch.json";
  return input;
}

}  // namespace

TEST_CASE("create transform golden files", "[runtime][golden]") {
  bool update = std::getenv("RUNCVM_UPDATE_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(kGolden)) {
    const fs::path& dir = entry.path();
    ++cases;
    DYNAMIC_SECTION(dir.filename().string()) {
      CreateInput input = input_for(dir);
      if (fs::exists(dir / "error.txt")) {
        std::string expected = read_file(dir / "error.txt");
        expected = expected.substr(0, expected.find('\n'));
        try {
          transform_create(input);
          FAIL("expected an error containing: " << expected);
        } catch (const Error& e) {
          std::string line = format_error_line("runcvm-runtime", e);
          INFO(line);
          CHECK(line.find(expected) != std::string::npos);
          CHECK(line.find('\n') == std::string::npos);
        }
      } else {
        CreateResult result = transform_create(input);
        std::string spec = result.spec.dump(2) + "\n";
        std::string launch = handoff::to_json_text(result.launch);
        if (update) {
          write_file_atomic(dir / "expected.json", spec);
          write_file_atomic(dir / "launch.json", launch);
        }
        CHECK(spec == read_file(dir / "expected.json"));
        CHECK(launch == read_file(dir / "launch.json"));
        // What the guest will read must parse back to the same document.
        CHECK(handoff::to_json_text(handoff::parse_launch(launch)) == launch);
      }
    }
  }
  CHECK(cases >= 11);
}
