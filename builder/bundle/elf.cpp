#include "builder/bundle/elf.hpp"

#include <elf.h>

#include <cstring>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace runcvm::builder {
namespace {

template <class T>
T read_elf(std::string_view bytes, std::uint64_t offset, const std::string& what) {
  auto value = read_at<T>(bytes, offset);
  if (!value) throw Error(what + ": truncated ELF file");
  return *value;
}

std::string string_at(std::string_view bytes, std::uint64_t offset, std::uint64_t limit, const std::string& what) {
  if (offset >= bytes.size() || offset >= limit) throw Error(what + ": ELF string outside its table");
  std::string_view rest = bytes.substr(offset, limit - offset);
  auto end = rest.find('\0');
  if (end == std::string_view::npos) throw Error(what + ": unterminated ELF string");
  return std::string(rest.substr(0, end));
}

}  // namespace

ElfDependencies read_elf_dependencies(std::string_view bytes, const std::string& what) {
  auto header = read_elf<Elf64_Ehdr>(bytes, 0, what);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) throw Error(what + ": not an ELF file");
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
    throw Error(what + ": not a 64-bit little-endian ELF file");
  if (header.e_phentsize != sizeof(Elf64_Phdr)) throw Error(what + ": unexpected program header size");

  std::vector<Elf64_Phdr> segments;
  for (unsigned i = 0; i < header.e_phnum; ++i)
    segments.push_back(read_elf<Elf64_Phdr>(bytes, header.e_phoff + std::uint64_t{i} * sizeof(Elf64_Phdr), what));
  // Dynamic entries hold virtual addresses; the loadable segments map them back to file offsets.
  auto file_offset = [&](std::uint64_t address) -> std::uint64_t {
    for (const auto& s : segments)
      if (s.p_type == PT_LOAD && address >= s.p_vaddr && address - s.p_vaddr < s.p_filesz)
        return s.p_offset + (address - s.p_vaddr);
    throw Error(what + ": ELF address outside the file's segments");
  };

  ElfDependencies out;
  for (const auto& s : segments) {
    if (s.p_type == PT_INTERP) out.interpreter = string_at(bytes, s.p_offset, s.p_offset + s.p_filesz, what);
    if (s.p_type != PT_DYNAMIC) continue;
    out.is_dynamic = true;
    std::uint64_t strtab = 0, strsz = 0;
    std::vector<std::uint64_t> needed, runpath, rpath;
    for (std::uint64_t at = s.p_offset; at + sizeof(Elf64_Dyn) <= s.p_offset + s.p_filesz; at += sizeof(Elf64_Dyn)) {
      auto entry = read_elf<Elf64_Dyn>(bytes, at, what);
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
    std::uint64_t table = file_offset(strtab);
    std::uint64_t limit =
        strsz > bytes.size() - std::min<std::uint64_t>(table, bytes.size()) ? bytes.size() : table + strsz;
    for (auto offset : needed) out.needed.push_back(string_at(bytes, table + offset, limit, what));
    // DT_RUNPATH wins over DT_RPATH when both are present, as in the dynamic loader.
    for (auto offset : runpath.empty() ? rpath : runpath)
      for (auto& dir : split_nonempty(string_at(bytes, table + offset, limit, what), ':')) out.runpath.push_back(dir);
  }
  return out;
}

}  // namespace runcvm::builder
