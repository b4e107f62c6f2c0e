// The runcvm initramfs: a static init, the modules needed to reach a virtiofs root (uncompressed,
// so the init needs no decompressor) and their load order. Planned as data by a pure function,
// then written as a deterministic cpio (newc) archive compressed with zstd or gzip.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "builder/kernels/module_graph.hpp"
#include "builder/kernels/recipe.hpp"
#include "common/file.hpp"

namespace runcvm::kernels {

struct InitramfsEntry {
  enum class Kind { directory, file, character_device };
  std::string path;  // relative, no leading slash
  Kind kind = Kind::file;
  unsigned mode = 0644;
  std::string content;      // for files without a source
  fs::path source;          // for files copied from disk
  bool decompress = false;  // source is a compressed module
  unsigned major = 0, minor = 0;
};

std::vector<InitramfsEntry> plan_initramfs(const std::vector<const ModuleInfo*>& load_order,
                                           const fs::path& modules_directory, const fs::path& init_program);

// Entries are written sorted by path with owner 0:0 and mtime `timestamp`, so equal inputs give
// byte-identical archives. Returns the size of the written file.
std::uintmax_t write_initramfs(std::vector<InitramfsEntry> entries, const fs::path& output, Compression compression,
                               std::time_t timestamp);

}  // namespace runcvm::kernels
