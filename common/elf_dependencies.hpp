// What a dynamically linked ELF program needs to run elsewhere: its program interpreter
// (PT_INTERP) and, from its dynamic section, the libraries it names (DT_NEEDED) and where it asks
// for them to be looked up (DT_RUNPATH, or the older DT_RPATH). Read from the file's bytes; every
// offset is checked, so a truncated or hostile file is an error, never a crash.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace runcvm {

struct ElfDependencies {
  std::string interpreter;           // "" for static programs and for libraries
  bool has_interpreter = false;      // a PT_INTERP segment, even one naming nothing
  std::vector<std::string> needed;   // in the order the dynamic section lists them
  std::vector<std::string> runpath;  // directories, $ORIGIN unexpanded
  bool is_dynamic = false;           // has a dynamic section

  // Runs as it is on any system: no program interpreter, no library to load.
  bool is_static() const { return !has_interpreter && needed.empty(); }
};

// `what` names the file in errors. Only 64-bit little-endian ELF (x86_64, aarch64) is read, and
// only its first dynamic segment (the loader's), with at most kMaxNeeded libraries.
inline constexpr std::size_t kMaxNeeded = 1024;
ElfDependencies read_elf_dependencies(std::string_view bytes, const std::string& what);

}  // namespace runcvm
