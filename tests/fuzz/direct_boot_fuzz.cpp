// Taking the kernel ELF out of a bzImage, and looking for its PVH note, on arbitrary bytes: the
// kernel packages come from a mirror.
#include "builder/kernels/direct_boot.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    runcvm::kernels::has_pvh_entry(input);
    runcvm::kernels::direct_boot_image(input, "fuzz");
  });
}
