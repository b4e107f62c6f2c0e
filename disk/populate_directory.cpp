#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "disk/populate.hpp"

namespace runcvm::disk {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

Metadata metadata_of(const struct stat& st) {
  Metadata m;
  m.mode = st.st_mode;
  m.uid = st.st_uid;
  m.gid = st.st_gid;
  m.atime = st.st_atim;
  m.mtime = st.st_mtim;
  m.ctime = st.st_ctim;
  return m;
}

// Extended attributes through the directory's /proc/self/fd path: works for every type (fifos
// and devices cannot be opened safely) and for paths longer than PATH_MAX.
std::vector<std::pair<std::string, std::string>> xattrs_of(int dir_fd, const std::string& name,
                                                           const std::string& where) {
  std::string path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
  std::vector<std::pair<std::string, std::string>> out;
  ssize_t size = ::llistxattr(path.c_str(), nullptr, 0);
  if (size < 0) {
    if (errno == ENOTSUP || errno == ENODATA) return out;
    throw system_error("listing extended attributes of", where, errno);
  }
  std::string names(static_cast<std::size_t>(size), '\0');
  size = ::llistxattr(path.c_str(), names.data(), names.size());
  if (size < 0) throw system_error("listing extended attributes of", where, errno);
  names.resize(static_cast<std::size_t>(size));
  for (std::size_t at = 0; at < names.size();) {
    std::string key = names.c_str() + at;
    at += key.size() + 1;
    ssize_t length = ::lgetxattr(path.c_str(), key.c_str(), nullptr, 0);
    if (length < 0) continue;  // gone meanwhile
    std::string value(static_cast<std::size_t>(length), '\0');
    length = ::lgetxattr(path.c_str(), key.c_str(), value.data(), value.size());
    if (length < 0) continue;
    value.resize(static_cast<std::size_t>(length));
    out.emplace_back(std::move(key), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Walker {
 public:
  Walker(Ext4Image& image, const Note& note) : image_(image), note_(note) {}

  void walk(int dir_fd, const std::string& relative, const std::string& where) {
    DIR* dir = ::fdopendir(::dup(dir_fd));
    if (!dir) throw system_error("reading directory", where, errno);
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());  // the same tree gives the same image layout
    for (const auto& name : names)
      add(dir_fd, name, relative.empty() ? name : relative + "/" + name, where + "/" + name);
  }

 private:
  void add(int dir_fd, const std::string& name, const std::string& relative, const std::string& where) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw system_error("reading", where, errno);
    Metadata m = metadata_of(st);
    if (S_ISSOCK(st.st_mode)) {
      note_("skipped socket " + where + " (sockets are made by the programs that listen on them)");
      return;
    }
    m.xattrs = xattrs_of(dir_fd, name, where);
    if (S_ISDIR(st.st_mode)) {
      image_.add_directory(relative, m);
      UniqueFd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child) throw system_error("opening directory", where, errno);
      walk(child.get(), relative, where);
      return;
    }
    if (st.st_nlink > 1) {
      auto [it, first] = links_.emplace(std::pair{st.st_dev, st.st_ino}, relative);
      if (!first) {
        image_.add_hard_link(relative, it->second);
        return;
      }
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) throw system_error("reading symlink", where, errno);
      target.resize(static_cast<std::size_t>(n));
      image_.add_symlink(relative, m, target);
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd file(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!file) throw system_error("opening", where, errno);
      auto size = static_cast<std::uint64_t>(st.st_size);
      image_.add_file(relative, m, size, [&](const DataWriter& write) { copy_data(file.get(), size, where, write); });
    } else {
      image_.add_special(relative, m, st.st_rdev);
    }
  }

  // Only the file's data regions are read (SEEK_DATA/SEEK_HOLE): holes stay holes in the image.
  static void copy_data(int fd, std::uint64_t size, const std::string& where, const DataWriter& write) {
    std::string buffer(kReadChunk, '\0');
    off_t offset = 0;
    while (static_cast<std::uint64_t>(offset) < size) {
      off_t data = ::lseek(fd, offset, SEEK_DATA);
      if (data < 0 && errno == ENXIO) return;  // only a hole is left
      if (data < 0) data = offset;             // no SEEK_DATA here: read it all
      off_t hole = ::lseek(fd, data, SEEK_HOLE);
      if (hole < 0) hole = static_cast<off_t>(size);
      for (off_t at = data; at < hole;) {
        ssize_t n =
            ::pread(fd, buffer.data(), std::min<std::size_t>(buffer.size(), static_cast<std::size_t>(hole - at)), at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw system_error("reading", where, errno);
        if (n == 0) return;  // shrank while we read
        write(static_cast<std::uint64_t>(at), std::string_view(buffer.data(), static_cast<std::size_t>(n)));
        at += n;
      }
      offset = hole;
    }
  }

  Ext4Image& image_;
  const Note& note_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

std::uint64_t count_entries_below(int dir_fd, const std::string& where) {
  DIR* dir = ::fdopendir(::dup(dir_fd));
  if (!dir) throw system_error("reading directory", where, errno);
  std::uint64_t count = 0;
  std::vector<std::string> subdirectories;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    ++count;
    if (entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN) subdirectories.push_back(std::move(name));
  }
  ::closedir(dir);
  for (const auto& name : subdirectories) {
    // O_NOFOLLOW: a link to a directory is one entry, as it will be in the image.
    UniqueFd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (child) count += count_entries_below(child.get(), where + "/" + name);
  }
  return count;
}

}  // namespace

std::uint64_t count_entries(const std::string& directory) {
  UniqueFd root(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw system_error("opening directory", directory, errno);
  return count_entries_below(root.get(), directory);
}

void populate_from_directory(Ext4Image& image, const std::string& directory, const Note& note) {
  UniqueFd root(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw system_error("opening directory", directory, errno);
  struct stat st {};
  if (::fstat(root.get(), &st) != 0) throw system_error("reading", directory, errno);
  Metadata m = metadata_of(st);
  m.xattrs = xattrs_of(root.get(), ".", directory);
  image.add_directory("", m);
  Walker(image, note).walk(root.get(), "", directory);
}

}  // namespace runcvm::disk
