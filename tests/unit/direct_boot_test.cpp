#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/stat.h>

#include <cstring>

#include "builder/kernels/direct_boot.hpp"
#include "common/error.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

namespace {

std::string note(std::string_view name, std::uint32_t type, std::string_view desc) {
  std::string out(12, '\0');
  test::put<std::uint32_t>(out, 0, static_cast<std::uint32_t>(name.size()));
  test::put<std::uint32_t>(out, 4, static_cast<std::uint32_t>(desc.size()));
  test::put<std::uint32_t>(out, 8, type);
  auto padded = [](std::string_view s) { return std::string(s) + std::string((4 - s.size() % 4) % 4, '\0'); };
  return out + padded(name) + padded(desc);
}

// An ELF64 executable with one PT_NOTE segment holding `notes`, then a stretch of zeros (a .bss).
std::string kernel_elf(const std::string& notes) {
  std::string elf(64 + 56, '\0');
  std::memcpy(elf.data(),
              "\x7f"
              "ELF\x02\x01\x01",
              7);
  test::put<std::uint16_t>(elf, 0x10, 2);   // ET_EXEC
  test::put<std::uint16_t>(elf, 0x12, 62);  // EM_X86_64
  test::put<std::uint64_t>(elf, 0x20, 64);  // e_phoff
  test::put<std::uint16_t>(elf, 0x36, 56);  // e_phentsize
  test::put<std::uint16_t>(elf, 0x38, 1);   // e_phnum
  test::put<std::uint32_t>(elf, 64, 4);     // PT_NOTE
  test::put<std::uint64_t>(elf, 64 + 8, elf.size());
  test::put<std::uint64_t>(elf, 64 + 32, notes.size());
  return elf + notes + std::string(3 * 4096, '\0') + "end";
}

// A bzImage: one setup sector after the boot sector, then the compressed ELF at payload_offset
// (with the 4-byte uncompressed size the kernel's build appends for all but gzip).
std::string with_size(const std::string& compressed, std::size_t size) {
  std::string tail(4, '\0');
  test::put<std::uint32_t>(tail, 0, static_cast<std::uint32_t>(size));
  return compressed + tail;
}

std::string bzimage(const std::string& payload, std::uint16_t protocol = 0x20f) {
  std::string image(1024 + 16, '\0');
  image[0x1f1] = 1;
  std::memcpy(image.data() + 0x202, "HdrS", 4);
  test::put<std::uint16_t>(image, 0x206, protocol);
  test::put<std::uint32_t>(image, 0x248, 16);
  test::put<std::uint32_t>(image, 0x24c, static_cast<std::uint32_t>(payload.size()));
  return image + payload + std::string(64, '\x01');  // the decompressor's trailer
}

}  // namespace

TEST_CASE("a PVH kernel's ELF is taken out of its bzImage for direct boot", "[kernels][direct-boot]") {
  std::string pvh = kernel_elf(note("Xen", 6, "linux") + note(std::string_view("Xen\0", 4), 18, "\x00\x10\x00\x01"));
  CHECK(kernels::has_pvh_entry(pvh));
  auto elf = kernels::direct_boot_image(bzimage(test::gzip(pvh)), "vmlinuz");
  REQUIRE(elf);
  CHECK(*elf == pvh);
  auto sized = kernels::direct_boot_image(bzimage(with_size(test::gzip(pvh), pvh.size())), "vmlinuz");
  REQUIRE(sized);
  CHECK(*sized == pvh);

  std::string plain = kernel_elf(note(std::string_view("Xen\0", 4), 6, "linux"));
  CHECK_FALSE(kernels::has_pvh_entry(plain));
  CHECK_FALSE(kernels::direct_boot_image(bzimage(test::gzip(plain)), "vmlinuz"));
  CHECK_FALSE(kernels::direct_boot_image(bzimage(test::gzip(pvh), 0x207), "vmlinuz"));  // no payload fields
  CHECK_FALSE(kernels::has_pvh_entry("not an elf"));

  CHECK_FALSE(kernels::direct_boot_image(std::string(2048, 'x'), "boot/vmlinuz-6.1"));  // not a bzImage
  std::string damaged = bzimage(test::gzip(pvh).substr(0, 40));                         // cut short
  CHECK_THROWS_WITH(kernels::direct_boot_image(damaged, "boot/vmlinuz-6.1"),
                    ContainsSubstring("boot/vmlinuz-6.1 payload"));
  std::string truncated = bzimage(test::gzip(pvh)).substr(0, 1100);
  CHECK_THROWS_WITH(kernels::direct_boot_image(truncated, "vmlinuz"), ContainsSubstring("beyond the end of the file"));
}

TEST_CASE("the direct-boot kernel is written with holes where it is zeros", "[kernels][direct-boot]") {
  test::ScratchDirectory scratch;
  std::string data = "head" + std::string(1 << 20, '\0') + "tail";
  fs::path path = scratch.path() / "vmlinux";
  kernels::write_sparse_file(path, data);
  CHECK(read_file(path) == data);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_blocks * 512 < 64 * 1024);
  CHECK_THROWS_WITH(kernels::write_sparse_file(scratch.path() / "missing" / "vmlinux", data),
                    ContainsSubstring("creating"));
}
