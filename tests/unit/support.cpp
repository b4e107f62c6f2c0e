#include "tests/unit/support.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace runcvm::test {
std::string make_module_elf(const std::vector<std::string>& fields) {
  std::string modinfo;
  for (const auto& field : fields) modinfo += field + '\0';
  const std::string names = std::string("\0.modinfo\0.shstrtab\0", 20);
  // Layout: ELF header (64) | .modinfo | .shstrtab | section headers (3 x 64).
  std::size_t modinfo_offset = 64, names_offset = modinfo_offset + modinfo.size();
  std::size_t headers_offset = (names_offset + names.size() + 7) & ~std::size_t{7};
  std::string elf(headers_offset + 3 * 64, '\0');
  std::memcpy(elf.data(),
              "\x7f"
              "ELF\x02\x01\x01",
              7);
  put<std::uint16_t>(elf, 0x10, 1);   // ET_REL
  put<std::uint16_t>(elf, 0x12, 62);  // EM_X86_64
  put<std::uint32_t>(elf, 0x14, 1);
  put<std::uint64_t>(elf, 0x28, headers_offset);
  put<std::uint16_t>(elf, 0x34, 64);
  put<std::uint16_t>(elf, 0x3a, 64);
  put<std::uint16_t>(elf, 0x3c, 3);
  put<std::uint16_t>(elf, 0x3e, 2);
  std::memcpy(elf.data() + modinfo_offset, modinfo.data(), modinfo.size());
  std::memcpy(elf.data() + names_offset, names.data(), names.size());
  auto section = [&](int index, std::uint32_t name, std::uint64_t offset, std::uint64_t size) {
    std::size_t h = headers_offset + static_cast<std::size_t>(index) * 64;
    put<std::uint32_t>(elf, h, name);
    put<std::uint32_t>(elf, h + 4, index == 2 ? 3 : 1);  // SHT_STRTAB : SHT_PROGBITS
    put<std::uint64_t>(elf, h + 0x18, offset);
    put<std::uint64_t>(elf, h + 0x20, size);
  };
  section(1, 1, modinfo_offset, modinfo.size());
  section(2, 10, names_offset, names.size());
  return elf;
}

std::string gzip(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string tar(const std::map<std::string, std::string>& files, bool end_marker) {
  std::string out(1 << 20, '\0');
  std::size_t used = 0;
  std::unique_ptr<archive, int (*)(archive*)> writer(archive_write_new(), archive_write_free);
  archive_write_set_format_ustar(writer.get());
  archive_write_set_bytes_per_block(writer.get(), 512);
  archive_write_open_memory(writer.get(), out.data(), out.size(), &used);
  for (const auto& [name, content] : files) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
    archive_write_header(writer.get(), entry.get());
    archive_write_data(writer.get(), content.data(), content.size());
  }
  archive_write_close(writer.get());
  out.resize(used);
  if (!end_marker) out.resize(out.size() - 1024);
  return out;
}

ScratchDirectory::ScratchDirectory() {
  std::string pattern = (fs::temp_directory_path() / "runcvm-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

ScratchDirectory::~ScratchDirectory() { remove_tree_quietly(path_); }

handoff::Launch bundle_kernel_launch() {
  handoff::Launch launch;
  launch.kernel = {"bundle",
                   "debian",
                   "6.1.0-56-amd64",
                   "/opt/runcvm/kernels/debian/6.1.0-56-amd64/vmlinuz",
                   "/opt/runcvm/kernels/debian/6.1.0-56-amd64/initrd",
                   "/lib/modules/6.1.0-56-amd64",
                   "",
                   false};
  launch.memory_mib = 544;
  return launch;
}

}  // namespace runcvm::test
