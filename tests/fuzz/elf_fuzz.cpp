// The ELF dependency reader on arbitrary bytes: the bundle reads the programs it ships with it.
#include "common/elf_dependencies.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) { runcvm::read_elf_dependencies(input, "fuzz"); });
}
