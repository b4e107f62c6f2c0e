// The create and exec transforms on arbitrary JSON: a malformed spec must end in runcvm::Error
// (one clear line), never in a crash or another exception escaping.
#include <nlohmann/json.hpp>

#include "runtime/create_transform.hpp"
#include "runtime/exec_transform.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    nlohmann::json spec = nlohmann::json::parse(input, nullptr, false);
    if (spec.is_discarded()) return;
    try {
      runcvm::runtime::transform_exec(spec.contains("process") ? spec["process"] : spec);
    } catch (const runcvm::Error&) {
    }
    runcvm::runtime::CreateInput in;
    in.spec = spec;
    in.host.cpus = 2;
    in.host.bundle_root = "/opt/runcvm";
    in.bundle.kernels["debian"] = {{"6.1.0-56-amd64"}, "6.1.0-56-amd64", {}};
    in.launch_file = "/run/bundle/runcvm-launch.json";
    runcvm::runtime::transform_create(in);
  });
}
