#include "builder/kernels/recipe.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) { runcvm::kernels::parse_recipe(input, "fuzz"); });
}
