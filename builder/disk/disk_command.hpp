// `runcvm-build disk`: an ext4 image file, optionally prepopulated from a directory or tar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace runcvm::builder {

struct DiskOptions {
  std::uint64_t size_bytes = 0;
  std::optional<std::string> from;  // a directory, a tar file (any compression), or "-" (tar on stdin)
  std::string label;
  std::string out;
};

// Writes out through a temporary name in the same directory, renamed when complete.
void run_disk(const DiskOptions& options);

}  // namespace runcvm::builder
