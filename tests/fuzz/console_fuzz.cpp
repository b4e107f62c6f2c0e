// The end of the VM's console that runcvm-init quotes when the image's kernel fails to start:
// the guest writes it, so whatever bytes arrive, the summary is printable ASCII and bounded
// (3 lines of at most 200 characters and their separators).
#include <cstdlib>
#include <string>

#include "container/runcvm-init/console_tail.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    std::string summary = runcvm::container_init::console_summary(input, 3);
    if (summary.size() > 3 * 200 + 2 * 3) std::abort();
    for (char c : summary)
      if (c < 0x20 || c >= 0x7f) std::abort();
  });
}
