#include "disk/populate_tar.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <memory>

#include "common/archive_error.hpp"
#include "common/error.hpp"

namespace runcvm::disk {
namespace {

// "./usr/bin/" -> "usr/bin"; "." -> "" (the root). A tar is hostile input: a name with a "." or
// ".." component or an empty one ("a//b") would become a directory entry of that name (ext4's own
// "." and ".." included), so it is refused rather than guessed at.
std::string image_path(std::string path, const std::string& where) {
  while (path.starts_with("./")) path.erase(0, 2);
  while (path.starts_with("/")) path.erase(0, 1);
  while (path.ends_with("/")) path.pop_back();
  if (path == ".") path.clear();
  for (size_t start = 0; start < path.size();) {
    size_t slash = path.find('/', start);
    std::string_view component =
        std::string_view(path).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (component.empty() || component == "." || component == "..")
      throw Error(where + ": the path has a " + quote(component) + " component: expected a path inside the image");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return path;
}

timespec time_of(time_t seconds, long nanoseconds) { return timespec{seconds, nanoseconds}; }

}  // namespace

void populate_from_tar(disk::Ext4Image& image, const std::string& tar_path, const disk::Note& note) {
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), archive_read_free);
  archive* a = reader.get();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  int opened =
      tar_path == "-" ? archive_read_open_fd(a, 0, 1 << 20) : archive_read_open_filename(a, tar_path.c_str(), 1 << 20);
  if (opened != ARCHIVE_OK) throw archive_error(a, "reading " + quote(tar_path));
  archive_entry* entry = nullptr;
  for (;;) {
    int status = archive_read_next_header(a, &entry);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) throw archive_error(a, "reading " + quote(tar_path));
    const char* name = archive_entry_pathname(entry);
    if (!name) continue;
    std::string where = quote(tar_path) + " entry " + quote(name);
    std::string path = image_path(name, where);
    disk::Metadata m;
    m.mode = archive_entry_mode(entry);
    m.uid = static_cast<std::uint32_t>(archive_entry_uid(entry));
    m.gid = static_cast<std::uint32_t>(archive_entry_gid(entry));
    m.mtime = time_of(archive_entry_mtime(entry), archive_entry_mtime_nsec(entry));
    m.atime = archive_entry_atime_is_set(entry) ? time_of(archive_entry_atime(entry), archive_entry_atime_nsec(entry))
                                                : m.mtime;
    m.ctime = archive_entry_ctime_is_set(entry) ? time_of(archive_entry_ctime(entry), archive_entry_ctime_nsec(entry))
                                                : m.mtime;
    const char* xname = nullptr;
    const void* xvalue = nullptr;
    size_t xsize = 0;
    archive_entry_xattr_reset(entry);
    while (archive_entry_xattr_next(entry, &xname, &xvalue, &xsize) == ARCHIVE_OK)
      m.xattrs.emplace_back(xname, std::string(static_cast<const char*>(xvalue), xsize));

    try {
      if (const char* target = archive_entry_hardlink(entry)) {
        image.add_hard_link(path, image_path(target, where + " (its link target)"));
        continue;
      }
      switch (archive_entry_filetype(entry)) {
        case AE_IFDIR:
          image.add_directory(path, m);
          break;
        case AE_IFLNK:
          image.add_symlink(path, m, archive_entry_symlink(entry) ? archive_entry_symlink(entry) : "");
          break;
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
          image.add_special(path, m, archive_entry_rdev(entry));
          break;
        case AE_IFSOCK:
          note("skipped socket " + where);
          break;
        case AE_IFREG: {
          auto size = static_cast<std::uint64_t>(archive_entry_size(entry));
          image.add_file(path, m, size, [&](const disk::DataWriter& write) {
            const void* block = nullptr;
            size_t length = 0;
            la_int64_t offset = 0;
            for (;;) {
              int read = archive_read_data_block(a, &block, &length, &offset);
              if (read == ARCHIVE_EOF) return;
              if (read < ARCHIVE_WARN) throw archive_error(a, "reading " + where);
              write(static_cast<std::uint64_t>(offset), std::string_view(static_cast<const char*>(block), length));
            }
          });
          break;
        }
        default:
          note("skipped " + where + " of unknown type");
          break;
      }
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
}

}  // namespace runcvm::disk
