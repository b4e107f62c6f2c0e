// Compiling a kernel from a Debian source package (linux-source-*), for recipes with a `build`
// section: the tarball unpacked, the base config plus the recipe's fragment (checked option by
// option after Kconfig resolved it), the image and modules built with the host's gcc, and the
// result laid out as a binary kernel package would be, so the rest of the pipeline (module
// indexes, initramfs, install) is the same for built and packaged kernels.
#pragma once

#include <ctime>
#include <string>

#include "builder/kernels/recipe.hpp"
#include "common/file.hpp"

namespace runcvm::kernels {

// The compiler and linker that would build the kernel, as their first --version lines: part of
// what the compiled kernel is made of. Throws naming the Debian packages when a tool is missing.
std::string toolchain_identity();

struct SourceBuildPaths {
  fs::path source_package;  // the verified .deb
  fs::path work;            // an empty scratch directory (the source tree goes here)
  fs::path root;            // receives boot/vmlinuz-<release>, boot/config-<release>, lib/modules/<release>/
  fs::path log;             // the compiler's whole output, kept when the build fails
};

// Returns the kernel release (e.g. 6.1.192-runcvm).
std::string build_kernel_from_source(const Recipe& recipe, const SourceBuildPaths& paths, unsigned jobs,
                                     std::time_t timestamp);

}  // namespace runcvm::kernels
