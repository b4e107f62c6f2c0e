// rtnetlink answers on arbitrary bytes: runcvm-init and runcvm-vm-init parse what the kernel
// sends, and must reject a malformed length rather than read past it.
#include "net/netlink.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    for (auto message : runcvm::net::split_messages(input)) {
      runcvm::net::parse_link(message);
      runcvm::net::parse_address(message);
      runcvm::net::parse_route(message);
    }
  });
}
