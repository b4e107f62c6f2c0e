#include "builder/kernels/direct_boot.hpp"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "builder/kernels/unpack.hpp"
#include "common/bytes.hpp"
#include "common/elf.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"

namespace runcvm::kernels {
namespace {

// Offsets in the x86 boot protocol's setup header (Documentation/arch/x86/boot.rst).
constexpr std::size_t kSetupSectors = 0x1f1;
constexpr std::size_t kHeaderMagic = 0x202;  // "HdrS"
constexpr std::size_t kProtocolVersion = 0x206;
constexpr std::size_t kPayloadOffset = 0x248;
constexpr std::size_t kPayloadLength = 0x24c;
constexpr std::uint32_t kPvhNoteType = 18;  // XEN_ELFNOTE_PHYS32_ENTRY
// The kernel's ELF image (vmlinux) is a few tens of MiB; its compressed payload's expansion is
// bounded all the same.
constexpr std::uint64_t kKernelElfLimit = 1ull << 30;

}  // namespace

bool has_pvh_entry(std::string_view elf) {
  try {
    ElfFile file(elf, "the kernel's ELF image");
    for (const auto& segment : file.segments()) {
      // A damaged note segment is passed over: a later one may hold the entry.
      if (segment.p_type != PT_NOTE || segment.p_offset > elf.size() ||
          segment.p_filesz > elf.size() - segment.p_offset)
        continue;
      std::string_view notes = elf.substr(segment.p_offset, segment.p_filesz);
      std::size_t at = 0;
      while (auto note = read_at<Elf64_Nhdr>(notes, at)) {
        auto aligned = [](std::size_t n) { return (n + 3) & ~std::size_t(3); };
        std::size_t name_at = at + sizeof(Elf64_Nhdr);
        if (note->n_namesz > notes.size() || name_at > notes.size() - note->n_namesz) break;
        std::string_view name = notes.substr(name_at, note->n_namesz);
        if (note->n_type == kPvhNoteType && name == std::string_view("Xen\0", 4)) return true;
        at = name_at + aligned(note->n_namesz) + aligned(note->n_descsz);
        if (at >= notes.size()) break;
      }
    }
  } catch (const Error&) {
    // Not an ELF image we can read, or a damaged one: it is not booted directly.
  }
  return false;
}

std::optional<std::string> direct_boot_image(std::string_view bzimage, std::string_view what) {
  auto magic = read_at<std::uint32_t>(bzimage, kHeaderMagic);
  auto version = read_at<std::uint16_t>(bzimage, kProtocolVersion);
  // Not an x86 bzImage (another architecture's image, or a test's stand-in): it boots as it is.
  if (!magic || std::memcmp(&*magic, "HdrS", 4) != 0) return std::nullopt;
  if (*version < 0x208) return std::nullopt;  // no payload fields before protocol 2.08
  std::size_t setup_sectors = static_cast<unsigned char>(bzimage[kSetupSectors]);
  if (setup_sectors == 0) setup_sectors = 4;
  std::size_t start = (setup_sectors + 1) * 512 + *read_at<std::uint32_t>(bzimage, kPayloadOffset);
  std::size_t length = *read_at<std::uint32_t>(bzimage, kPayloadLength);
  if (start > bzimage.size() || length > bzimage.size() - start)
    throw Error(std::string(what) + ": its setup header places the kernel payload beyond the end of the file");
  std::string_view payload = bzimage.substr(start, length);
  // Linux's build appends the uncompressed size (4 bytes, little-endian) to every compressed
  // kernel but a gzip one, whose own trailer has it; the decompressors reject trailing bytes.
  std::optional<std::string> elf;
  if (payload.size() > 4) {
    std::uint32_t size = *read_at<std::uint32_t>(payload, payload.size() - 4);
    try {
      elf = decompress(payload.substr(0, payload.size() - 4), std::string(what) + " payload", kKernelElfLimit);
      if (elf->size() != size) elf.reset();
    } catch (const Error&) {
    }
  }
  if (!elf) elf = decompress(payload, std::string(what) + " payload", kKernelElfLimit);
  if (!has_pvh_entry(*elf)) return std::nullopt;
  return elf;
}

void write_sparse_file(const fs::path& path, std::string_view data) {
  constexpr std::size_t kBlock = 4096;
  fs::path temporary = temporary_sibling(path);
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw system_error("creating", temporary.string(), errno);
  try {
    static const char zeros[kBlock] = {};
    for (std::size_t at = 0; at < data.size(); at += kBlock) {
      std::string_view block = data.substr(at, kBlock);
      if (block.size() == kBlock && std::memcmp(block.data(), zeros, kBlock) == 0) continue;
      if (::pwrite(fd.get(), block.data(), block.size(), static_cast<off_t>(at)) != static_cast<ssize_t>(block.size()))
        throw system_error("writing", temporary.string(), errno);
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(data.size())) != 0)
      throw system_error("sizing", temporary.string(), errno);
    fd.reset();
    fs::rename(temporary, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(temporary, ec);
    throw;
  }
}

}  // namespace runcvm::kernels
