#include "common/elf_dependencies.hpp"

#include <algorithm>
#include <cstring>

#include "common/elf.hpp"
#include "common/text.hpp"

namespace runcvm {

ElfDependencies read_elf_dependencies(std::string_view bytes, const std::string& what) {
  ElfFile file(bytes, what);
  ElfDependencies out;
  for (const auto& s : file.segments()) {
    if (s.p_type == PT_INTERP) {
      out.has_interpreter = true;
      std::string_view name = file.bytes_of(s);
      out.interpreter = std::string(name.substr(0, name.find('\0')));
    }
    // The loader reads the first dynamic segment only; so does this.
    if (s.p_type != PT_DYNAMIC || out.is_dynamic) continue;
    out.is_dynamic = true;
    std::uint64_t strtab = 0, strsz = 0;
    std::vector<std::uint64_t> needed, runpath, rpath;
    std::string_view dynamic = file.bytes_of(s);
    for (std::size_t at = 0; at + sizeof(Elf64_Dyn) <= dynamic.size(); at += sizeof(Elf64_Dyn)) {
      Elf64_Dyn entry;
      std::memcpy(&entry, dynamic.data() + at, sizeof entry);
      if (entry.d_tag == DT_NULL) break;
      switch (entry.d_tag) {
        case DT_STRTAB:
          strtab = entry.d_un.d_ptr;
          break;
        case DT_STRSZ:
          strsz = entry.d_un.d_val;
          break;
        case DT_NEEDED:
          if (needed.size() == kMaxNeeded) file.fail("more than " + std::to_string(kMaxNeeded) + " needed libraries");
          needed.push_back(entry.d_un.d_val);
          break;
        case DT_RUNPATH:
          runpath.push_back(entry.d_un.d_val);
          break;
        case DT_RPATH:
          rpath.push_back(entry.d_un.d_val);
          break;
        default:
          break;
      }
    }
    if (needed.empty() && runpath.empty() && rpath.empty()) continue;
    // Dynamic entries hold virtual addresses; the loadable segments map them back to file offsets.
    std::uint64_t table = file.file_offset(strtab);
    if (table >= bytes.size()) file.fail("ELF string outside its table");
    // As much of the string table as the file holds; offsets past it are refused.
    std::string_view strings = bytes.substr(table, std::min<std::uint64_t>(strsz, bytes.size() - table));
    auto string = [&](std::uint64_t offset) { return file.string_in(strings, offset); };
    for (auto offset : needed) out.needed.push_back(string(offset));
    // DT_RUNPATH wins over DT_RPATH when both are present, as in the dynamic loader.
    for (auto offset : runpath.empty() ? rpath : runpath)
      for (auto& dir : split_nonempty(string(offset), ':')) out.runpath.push_back(dir);
  }
  return out;
}

}  // namespace runcvm
