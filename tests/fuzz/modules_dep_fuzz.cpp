// The image's modules.dep, from which runcvm-init picks the modules of its kernel's initramfs:
// the image writes it, so whatever bytes it holds, the selection is bounded and every path in it
// is a plain relative module path (nothing can name a file outside the modules directory).
#include <cstdlib>
#include <string>

#include "container/runcvm-init/image_initramfs.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    // A form feed splits the input into modules.builtin and modules.dep.
    std::size_t split = input.find('\f');
    std::string_view builtin = split == std::string_view::npos ? std::string_view{} : input.substr(0, split);
    std::string_view dep = split == std::string_view::npos ? input : input.substr(split + 1);
    auto order = runcvm::container_init::select_root_modules(
        dep, builtin, runcvm::container_init::root_module_names("q35"), 64, "6.1.0", "/lib/modules/6.1.0");
    if (order.size() > 64) std::abort();
    // ".." may appear inside a file name ("a..b.ko" stays in its directory); never as a step,
    // which is_plain_module_path refuses.
    for (const auto& path : order)
      if (!runcvm::container_init::is_plain_module_path(path) || path.starts_with("../") ||
          path.find("/../") != std::string::npos)
        std::abort();
  });
}
