// The handoff documents as the guest reads them: strict parsing of untrusted JSON.
#include "handoff/exec_request.hpp"
#include "handoff/launch.hpp"
#include "handoff/network.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    try {
      runcvm::handoff::parse_launch(input);
    } catch (const runcvm::Error&) {
    }
    try {
      runcvm::handoff::parse_network(input);
    } catch (const runcvm::Error&) {
    }
    try {
      runcvm::handoff::parse_exec_request(input);
    } catch (const runcvm::Error&) {
    }
    runcvm::handoff::parse_process(input);
  });
}
