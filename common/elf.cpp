#include "common/elf.hpp"

#include <cstring>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace runcvm {

ElfFile::ElfFile(std::string_view bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {
  if (!bytes.starts_with(std::string_view(ELFMAG, SELFMAG))) fail("not an ELF file");
  header_ = read<Elf64_Ehdr>(0);
  if (header_.e_ident[EI_CLASS] != ELFCLASS64 || header_.e_ident[EI_DATA] != ELFDATA2LSB)
    fail("not a 64-bit little-endian ELF file");
  if (header_.e_phnum != 0 && header_.e_phentsize != sizeof(Elf64_Phdr)) fail("unexpected program header size");
  // The table lies whole inside the file, so no entry's offset can wrap around to another place.
  slice(header_.e_phoff, std::uint64_t{header_.e_phnum} * sizeof(Elf64_Phdr), "the program header table");
  for (unsigned i = 0; i < header_.e_phnum; ++i)
    segments_.push_back(read<Elf64_Phdr>(header_.e_phoff + std::uint64_t{i} * sizeof(Elf64_Phdr)));
}

void ElfFile::fail(const std::string& problem) const { throw Error(what_ + ": " + problem); }

template <class T>
T ElfFile::read(std::uint64_t offset) const {
  auto value = read_at<T>(bytes_, offset);
  if (!value) fail("truncated ELF file (offset " + std::to_string(offset) + ")");
  return *value;
}

std::string_view ElfFile::slice(std::uint64_t offset, std::uint64_t size, const std::string& what) const {
  if (offset > bytes_.size() || size > bytes_.size() - offset) fail(what + " lies outside the file");
  return bytes_.substr(offset, size);
}

std::string_view ElfFile::bytes_of(const Elf64_Phdr& segment) const {
  return slice(segment.p_offset, segment.p_filesz, "a segment");
}

std::string_view ElfFile::section(std::string_view name) const {
  // No sections, or more than 65279 (their count then sits in section 0, which nothing of ours
  // needs): a file that should have them is refused rather than read as empty.
  if (header_.e_shnum == 0) fail("no section table");
  if (header_.e_shentsize != sizeof(Elf64_Shdr)) fail("unexpected section header size");
  slice(header_.e_shoff, std::uint64_t{header_.e_shnum} * sizeof(Elf64_Shdr), "the section header table");
  if (header_.e_shstrndx >= header_.e_shnum) fail("no section name table");
  auto section_header = [&](unsigned index) {
    return read<Elf64_Shdr>(header_.e_shoff + std::uint64_t{index} * sizeof(Elf64_Shdr));
  };
  auto contents = [&](unsigned index, const Elf64_Shdr& h) {
    return slice(h.sh_offset, h.sh_size, "section " + std::to_string(index));
  };
  std::string_view names = contents(header_.e_shstrndx, section_header(header_.e_shstrndx));
  for (unsigned i = 0; i < header_.e_shnum; ++i) {
    Elf64_Shdr h = section_header(i);
    if (h.sh_name >= names.size()) continue;
    std::string_view candidate = names.substr(h.sh_name);
    if (candidate.substr(0, candidate.find('\0')) == name) return contents(i, h);
  }
  return {};
}

std::string ElfFile::string_in(std::string_view table, std::uint64_t offset) const {
  if (offset >= table.size()) fail("ELF string outside its table");
  std::string_view rest = table.substr(offset);
  auto end = rest.find('\0');
  if (end == std::string_view::npos) fail("unterminated ELF string");
  return std::string(rest.substr(0, end));
}

std::uint64_t ElfFile::file_offset(std::uint64_t address) const {
  for (const auto& s : segments_)
    if (s.p_type == PT_LOAD && address >= s.p_vaddr && address - s.p_vaddr < s.p_filesz)
      return s.p_offset + (address - s.p_vaddr);
  fail("ELF address outside the file's segments");
}

}  // namespace runcvm
