#include "builder/kernels/initramfs.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <memory>

#include "builder/kernels/module_tree.hpp"
#include "common/archive_error.hpp"
#include "common/error.hpp"
#include "handoff/kernel_artifact.hpp"

namespace runcvm::kernels {

namespace artifact = handoff::kernel_artifact;
namespace {

int write_callback_open(archive*, void*) { return ARCHIVE_OK; }

la_ssize_t write_callback(archive* a, void* user, const void* buffer, size_t length) {
  try {
    static_cast<AtomicFileWriter*>(user)->write(std::string_view(static_cast<const char*>(buffer), length));
    return static_cast<la_ssize_t>(length);
  } catch (const Error& e) {
    archive_set_error(a, e.error_number() ? e.error_number() : EIO, "%s", e.what());
    return -1;
  }
}

}  // namespace

std::vector<InitramfsEntry> plan_initramfs(const std::vector<const ModuleInfo*>& load_order,
                                           const fs::path& modules_directory, const fs::path& init_program) {
  using Kind = InitramfsEntry::Kind;
  std::vector<InitramfsEntry> entries;
  for (const char* dir : {"dev", "proc", "sys", "newroot", artifact::kInitramfsModules})
    entries.push_back({dir, Kind::directory, 0755, {}, {}, false, 0, 0});
  // The kernel opens /dev/console for init's stdio before anything can mount devtmpfs; 5:1 is
  // the console's fixed number in the kernel's device ABI (Documentation/admin-guide/devices.txt).
  entries.push_back({"dev/console", Kind::character_device, 0600, {}, {}, false, 5, 1});
  entries.push_back({artifact::kInitramfsInit, Kind::file, 0755, {}, init_program, false, 0, 0});
  std::string order;
  for (const ModuleInfo* module : load_order) {
    std::string name = uncompressed_module_name(module->path);
    fs::path source = modules_directory / module->path;
    entries.push_back({std::string(artifact::kInitramfsModules) + "/" + name,
                       Kind::file,
                       0644,
                       {},
                       source,
                       source.extension() != ".ko",
                       0,
                       0});
    order += name + "\n";
  }
  entries.push_back({artifact::kInitramfsLoadOrder, Kind::file, 0644, order, {}, false, 0, 0});
  return entries;
}

std::uintmax_t write_initramfs(std::vector<InitramfsEntry> entries, const fs::path& output, Compression compression,
                               std::time_t timestamp) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  AtomicFileWriter file(output);
  std::unique_ptr<archive, int (*)(archive*)> writer(archive_write_new(), archive_write_free);
  archive* a = writer.get();
  archive_write_set_format_cpio_newc(a);
  if (compression == Compression::zstd) {
    archive_write_add_filter_zstd(a);
    archive_write_set_filter_option(a, "zstd", "compression-level", "19");
  } else {
    archive_write_add_filter_gzip(a);
    archive_write_set_filter_option(a, "gzip", "compression-level", "9");
    archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);  // no mtime in the gzip header
  }
  archive_write_set_bytes_in_last_block(a, 1);
  auto fail = [&](std::string_view what) {
    return archive_error(a, "writing initramfs " + quote(output.string()) + ": " + std::string(what));
  };
  if (archive_write_open(a, &file, write_callback_open, write_callback, nullptr) != ARCHIVE_OK) throw fail("opening");
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(), archive_entry_free);
  std::int64_t inode = 1;
  for (const auto& e : entries) {
    std::string data = e.kind != InitramfsEntry::Kind::file ? std::string()
                       : !e.source.empty() ? (e.decompress ? read_module(e.source) : read_file(e.source))
                                           : e.content;
    archive_entry_clear(entry.get());
    archive_entry_set_pathname(entry.get(), e.path.c_str());
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_mtime(entry.get(), timestamp, 0);
    archive_entry_set_ino64(entry.get(), inode++);
    archive_entry_set_perm(entry.get(), static_cast<mode_t>(e.mode));
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(data.size()));
    switch (e.kind) {
      case InitramfsEntry::Kind::directory:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        archive_entry_set_nlink(entry.get(), 2);
        break;
      case InitramfsEntry::Kind::character_device:
        archive_entry_set_filetype(entry.get(), AE_IFCHR);
        archive_entry_set_rdev(entry.get(), makedev(e.major, e.minor));
        archive_entry_set_nlink(entry.get(), 1);
        break;
      case InitramfsEntry::Kind::file:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_nlink(entry.get(), 1);
        break;
    }
    if (archive_write_header(a, entry.get()) != ARCHIVE_OK) throw fail(e.path);
    if (!data.empty() && archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
      throw fail(e.path);
  }
  if (archive_write_close(a) != ARCHIVE_OK) throw fail("closing");
  file.commit();
  return fs::file_size(output);
}

}  // namespace runcvm::kernels
