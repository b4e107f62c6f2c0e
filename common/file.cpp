#include "common/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>

#include "common/error.hpp"

namespace runcvm {

std::string read_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw system_error("opening", path.string(), errno);
  std::string out;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw system_error("reading", path.string(), err);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

fs::path temporary_sibling(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  auto name = "." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter.fetch_add(1));
  return path.parent_path() / name;
}

void write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode) {
  AtomicFileWriter writer(path, mode);
  writer.write(content);
  writer.commit();
}

void make_directories(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw system_error("creating directory", path.string(), ec.value());
}

std::string read_value_file(const fs::path& path) {
  std::string text = read_file(path);
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  return text;
}

std::vector<fs::path> sorted_tree(const fs::path& root) {
  std::vector<fs::path> paths;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    paths.push_back(entry.path().lexically_relative(root));
  std::sort(paths.begin(), paths.end());
  return paths;
}

void remove_tree_quietly(const fs::path& path) noexcept {
  std::error_code ec;
  fs::remove_all(path, ec);
}

void check_output_replaceable(const fs::path& path, std::string_view option, OutputKind kind,
                              std::string_view kind_marker) {
  std::error_code ec;
  auto status = fs::symlink_status(path, ec);
  if (ec || status.type() == fs::file_type::not_found) return;
  std::string where = std::string(option) + " " + quote(path.string());
  if (kind == OutputKind::file) {
    if (status.type() == fs::file_type::regular) return;
    throw Error(where + ": exists and is not a regular file; refusing to replace it")
        .with_hint("remove it or choose another path");
  }
  if (status.type() != fs::file_type::directory)
    throw Error(where + ": exists and is not a directory; refusing to replace it")
        .with_hint("remove it or choose another path");
  if (fs::is_empty(path, ec) && !ec) return;
  if (!kind_marker.empty() && fs::is_regular_file(fs::symlink_status(path / kind_marker, ec)) && !ec) return;
  throw Error(where + ": exists and is not an earlier output (it has no " + std::string(kind_marker) +
              "); refusing to replace it")
      .with_hint("remove it or choose another path");
}

void replace_symlink(const fs::path& target, const fs::path& link) {
  auto temporary = temporary_sibling(link);
  if (::symlink(target.c_str(), temporary.c_str()) != 0)
    throw system_error("creating symlink", temporary.string(), errno);
  if (::rename(temporary.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(temporary.c_str());
    throw system_error("renaming symlink onto", link.string(), err);
  }
}

StagingDirectory::StagingDirectory(fs::path path) : path_(std::move(path)) { make_directories(path_); }

StagingDirectory::~StagingDirectory() {
  if (!released_) remove_tree_quietly(path_);
}

AtomicFileWriter::AtomicFileWriter(fs::path path, fs::perms mode)
    : path_(std::move(path)), temporary_(temporary_sibling(path_)) {
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd_ < 0) throw system_error("creating", temporary_.string(), errno);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temporary_.c_str());
  }
}

void AtomicFileWriter::write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw system_error("writing", temporary_.string(), errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void AtomicFileWriter::commit() {
  // Delayed allocation can report ENOSPC only at fsync/close, so both are checked before rename.
  if (::fsync(fd_) != 0) throw system_error("flushing", temporary_.string(), errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(temporary_.c_str());
    throw system_error("closing", temporary_.string(), err);
  }
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(temporary_.c_str());
    throw system_error("renaming into place", path_.string(), err);
  }
}

void link_tree(const fs::path& from, const fs::path& to) {
  make_directories(to);
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    fs::path target = to / it->path().lexically_relative(from);  // fs::relative would resolve symlinks
    if (it->is_symlink()) {
      fs::copy_symlink(it->path(), target);
    } else if (it->is_directory()) {
      fs::create_directory(target);
    } else {
      std::error_code ec;
      fs::create_hard_link(it->path(), target, ec);
      if (ec == std::errc::cross_device_link)
        fs::copy_file(it->path(), target);
      else if (ec)
        throw fs::filesystem_error("linking a tree", it->path(), target, ec);
    }
  }
}

std::optional<std::string> file_identity(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec);
}

}  // namespace runcvm
