// The one reader of ELF files (kernel modules' .modinfo, programs' dependencies, a kernel's PVH
// note): a 64-bit little-endian ELF file (x86_64, aarch64) as untrusted bytes. Every offset and
// size is checked before use, so a truncated or hostile file is an Error naming it, never a read
// outside the bytes. libelf would do as much, but it is one more library in the static programs'
// link for three small lookups.
#pragma once

#include <elf.h>

#include <string>
#include <string_view>
#include <vector>

namespace runcvm {

class ElfFile {
 public:
  // Checks the identification, the header and that the program header table lies in the file;
  // `what` names the file in errors.
  ElfFile(std::string_view bytes, std::string what);

  // The program headers (segments), in the file's order.
  const std::vector<Elf64_Phdr>& segments() const { return segments_; }
  // The bytes a segment or a section occupies in the file.
  std::string_view bytes_of(const Elf64_Phdr& segment) const;
  // The bytes of the first section named `name`; empty when there is none. A file without a
  // section table is refused.
  std::string_view section(std::string_view name) const;
  // The NUL-terminated string at `offset` of a string table, which it must end within.
  std::string string_in(std::string_view table, std::uint64_t offset) const;
  // The file offset of virtual address `address`, through the loadable segments.
  std::uint64_t file_offset(std::uint64_t address) const;

  [[noreturn]] void fail(const std::string& problem) const;

 private:
  template <class T>
  T read(std::uint64_t offset) const;
  std::string_view slice(std::uint64_t offset, std::uint64_t size, const std::string& what) const;

  std::string_view bytes_;
  std::string what_;
  Elf64_Ehdr header_{};
  std::vector<Elf64_Phdr> segments_;
};

}  // namespace runcvm
