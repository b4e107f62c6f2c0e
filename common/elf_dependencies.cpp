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
    if (s.p_type == PT_INTERP) out.interpreter = file.string_at(s.p_offset, s.p_offset + s.p_filesz);
    if (s.p_type != PT_DYNAMIC) continue;
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
    std::uint64_t limit =
        strsz > bytes.size() - std::min<std::uint64_t>(table, bytes.size()) ? bytes.size() : table + strsz;
    for (auto offset : needed) out.needed.push_back(file.string_at(table + offset, limit));
    // DT_RUNPATH wins over DT_RPATH when both are present, as in the dynamic loader.
    for (auto offset : runpath.empty() ? rpath : runpath)
      for (auto& dir : split_nonempty(file.string_at(table + offset, limit), ':')) out.runpath.push_back(dir);
  }
  return out;
}

}  // namespace runcvm
