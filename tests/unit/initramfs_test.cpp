#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include <memory>

#include "builder/kernels/initramfs.hpp"
#include "builder/kernels/module_tree.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm::kernels;
namespace fs = runcvm::fs;

namespace {

struct CpioMember {
  std::string path;
  mode_t type;
  unsigned perm;
  unsigned rdev_major, rdev_minor;
  long mtime;
  std::string data;
};

std::vector<CpioMember> read_cpio(const fs::path& file, std::string* format) {
  std::unique_ptr<archive, int (*)(archive*)> reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_cpio(reader.get());
  REQUIRE(archive_read_open_filename(reader.get(), file.c_str(), 1 << 16) == ARCHIVE_OK);
  std::vector<CpioMember> out;
  archive_entry* entry = nullptr;
  while (archive_read_next_header(reader.get(), &entry) == ARCHIVE_OK) {
    *format = archive_format_name(reader.get());
    CpioMember m{archive_entry_pathname(entry),
                 archive_entry_filetype(entry),
                 static_cast<unsigned>(archive_entry_perm(entry)),
                 major(archive_entry_rdev(entry)),
                 minor(archive_entry_rdev(entry)),
                 static_cast<long>(archive_entry_mtime(entry)),
                 {}};
    char buffer[4096];
    la_ssize_t n;
    while ((n = archive_read_data(reader.get(), buffer, sizeof buffer)) > 0)
      m.data.append(buffer, static_cast<size_t>(n));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

TEST_CASE("the initramfs holds init, its modules in load order and a console", "[initramfs]") {
  runcvm::test::ScratchDirectory scratch;
  fs::path modules = scratch.path() / "modules";
  runcvm::make_directories(modules / "kernel");
  std::string fuse = runcvm::test::make_module_elf({"depends="});
  std::string virtiofs = runcvm::test::make_module_elf({"depends=fuse"});
  runcvm::write_file_atomic(modules / "kernel/fuse.ko", fuse);
  runcvm::write_file_atomic(modules / "kernel/virtiofs.ko.gz", runcvm::test::gzip(virtiofs));
  runcvm::write_file_atomic(scratch.path() / "init", "#!static-init");

  ModuleGraph graph = scan_module_tree(modules);
  auto plan = plan_initramfs(graph.load_order({"virtiofs"}), modules, scratch.path() / "init");
  auto compressions = GENERATE(Compression::zstd, Compression::gzip);
  fs::path output = scratch.path() / "initrd";
  auto size = write_initramfs(plan, output, compressions, 1700000000);
  CHECK(size == fs::file_size(output));

  std::string format;
  auto members = read_cpio(output, &format);
  CHECK(format == "ASCII cpio (SVR4 with no CRC)");  // libarchive's name for newc
  std::vector<std::string> paths;
  for (const auto& m : members) paths.push_back(m.path);
  CHECK(paths == std::vector<std::string>{"dev", "dev/console", "init", "modules", "modules/fuse.ko",
                                          "modules/load-order", "modules/virtiofs.ko", "newroot", "proc", "sys"});
  for (const auto& m : members) {
    INFO(m.path);
    CHECK(m.mtime == 1700000000);
    if (m.path == "dev/console") {
      CHECK(m.type == AE_IFCHR);
      CHECK(m.rdev_major == 5);
      CHECK(m.rdev_minor == 1);
    } else if (m.path == "init") {
      CHECK(m.perm == 0755);
      CHECK(m.data == "#!static-init");
    } else if (m.path == "modules/load-order") {
      CHECK(m.data == "fuse.ko\nvirtiofs.ko\n");
    } else if (m.path == "modules/virtiofs.ko") {
      CHECK(m.data == virtiofs);  // decompressed: the init has no decompressor
    } else if (m.path == "modules/fuse.ko") {
      CHECK(m.data == fuse);
    } else {
      CHECK(m.type == AE_IFDIR);
    }
  }

  // Same inputs, same bytes.
  fs::path again = scratch.path() / "initrd.again";
  write_initramfs(plan, again, compressions, 1700000000);
  CHECK(runcvm::read_file(again) == runcvm::read_file(output));
  // The leading magic tells the kernel which decompressor to use.
  std::string head = runcvm::read_file(output).substr(0, 4);
  CHECK(head ==
        (compressions == Compression::zstd ? std::string("\x28\xb5\x2f\xfd") : std::string("\x1f\x8b\x08\x00", 4)));
}

TEST_CASE("a failed initramfs write leaves nothing behind", "[initramfs]") {
  runcvm::test::ScratchDirectory scratch;
  std::vector<InitramfsEntry> plan = {
      {"init", InitramfsEntry::Kind::file, 0755, {}, scratch.path() / "missing", false, 0, 0}};
  CHECK_THROWS(write_initramfs(plan, scratch.path() / "initrd", Compression::zstd, 0));
  CHECK(fs::is_empty(scratch.path()));
}
