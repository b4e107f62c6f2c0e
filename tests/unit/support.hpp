// Builders for unit-test inputs: small ELF modules, gzip members and tar archives made in memory,
// and a scratch directory per test.
#pragma once

#include <cstddef>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "handoff/launch.hpp"

namespace runcvm::test {

// Stores `value` in host byte order over the bytes at `offset` of `out` (ELF fields of the
// little-endian machines the tests run on).
template <class T>
void put(std::string& out, std::size_t offset, T value) {
  std::memcpy(out.data() + offset, &value, sizeof value);
}

// A minimal ELF64 relocatable file whose .modinfo holds `fields` ("key=value" strings).
std::string make_module_elf(const std::vector<std::string>& fields);

// One gzip member holding `data`.
std::string gzip(std::string_view data);

// A ustar archive of regular files (sorted by name); `end_marker` false drops the two zero
// blocks at the end, as Alpine's abuild does for signature and control segments.
std::string tar(const std::map<std::string, std::string>& files, bool end_marker = true);

// A launch document that boots the bundle's Debian 6.1.0-56 kernel with 544 MiB (what -m 512m gives).
handoff::Launch bundle_kernel_launch();

class ScratchDirectory {
 public:
  ScratchDirectory();
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace runcvm::test
