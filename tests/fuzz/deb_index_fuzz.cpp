// Release and Packages files: deb822 paragraphs, SHA256 lists, dates, sizes.
#include "builder/kernels/package_index.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    try {
      runcvm::kernels::parse_release(input);
    } catch (const runcvm::Error&) {
    }
    runcvm::kernels::parse_packages(input, "http://mirror");
  });
}
