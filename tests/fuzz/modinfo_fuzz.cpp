// Kernel module ELF files: section table, section names, .modinfo strings.
#include "builder/kernels/modinfo.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    try {
      runcvm::kernels::module_info_from_elf(input, "fuzz.ko");
    } catch (const runcvm::Error&) {
    }
  });
}
