#include "runtime/rootfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include "common/error.hpp"

namespace runcvm::runtime {
namespace {

std::deque<std::string> components(std::string_view path) {
  std::deque<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view name = path.substr(0, slash);
    if (!name.empty() && name != ".") out.emplace_back(name);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
  }
  return out;
}

std::optional<std::string> link_target(int fd) {
  // readlinkat on an O_PATH descriptor of the link itself (empty path) reads that link.
  std::string target(4096, '\0');
  ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
  if (n <= 0 || static_cast<size_t>(n) >= target.size()) return std::nullopt;
  target.resize(static_cast<size_t>(n));
  return target;
}

}  // namespace

// The directories walked so far (root first) with their names, and the final object. openat2's
// RESOLVE_IN_ROOT would do the same in the kernel, but it does not say where the links led, and
// the kernel's version is read from a link's target (vmlinuz -> boot/vmlinuz-<version>).
struct Rootfs::Walk {
  std::vector<UniqueFd> directories;  // O_PATH descriptors; [0] is the root
  std::vector<std::string> names;     // names[i] is directories[i + 1]'s name
  UniqueFd object;                    // O_PATH, not following a final link (there is none left)
  std::string name;                   // its name in directories.back(); "" for the root itself
  struct stat status {};
};

Rootfs::Rootfs(const fs::path& root) : root_(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
  struct stat st {};
  if (!root_ || ::fstat(root_.get(), &st) != 0) throw system_error("opening the image's root", root.string(), errno);
  device_ = st.st_dev;
}

std::optional<Rootfs::Walk> Rootfs::walk(std::string_view path) const {
  Walk walk;
  walk.directories.emplace_back(::dup(root_.get()));
  if (!walk.directories.back()) return std::nullopt;
  std::deque<std::string> pending = components(path);
  int links = 0;
  while (!pending.empty()) {
    std::string name = std::move(pending.front());
    pending.pop_front();
    if (name == "..") {  // the parent of the root is the root, as in a chroot
      if (walk.names.empty()) continue;
      walk.names.pop_back();
      walk.directories.pop_back();
      continue;
    }
    UniqueFd fd(::openat(walk.directories.back().get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return std::nullopt;
    if (S_ISLNK(st.st_mode)) {
      auto target = link_target(fd.get());
      if (!target || ++links > kMaxLinks) return std::nullopt;
      if (!target->empty() && target->front() == '/') {  // absolute: from the image's root
        walk.directories.resize(1);
        walk.names.clear();
      }
      auto more = components(*target);
      pending.insert(pending.begin(), more.begin(), more.end());
      continue;
    }
    if (pending.empty()) {
      walk.object = std::move(fd);
      walk.name = std::move(name);
      walk.status = st;
      return walk;
    }
    // Only directories lead on; a mount point inside the root (none exists before runc runs)
    // would be another filesystem, and is not entered.
    if (!S_ISDIR(st.st_mode) || st.st_dev != device_) return std::nullopt;
    walk.directories.push_back(std::move(fd));
    walk.names.push_back(std::move(name));
  }
  // The path named the root (or resolved back to it).
  if (::fstat(walk.directories.back().get(), &walk.status) != 0) return std::nullopt;
  walk.object = UniqueFd(::dup(walk.directories.back().get()));
  if (!walk.names.empty()) {
    walk.name = walk.names.back();
    walk.names.pop_back();
    walk.directories.pop_back();
  }
  return walk;
}

std::optional<Rootfs::Resolved> Rootfs::walk_result(const Walk& walk) {
  std::string path;
  for (const auto& name : walk.names) path += "/" + name;
  if (!walk.name.empty()) path += "/" + walk.name;
  return Resolved{path.empty() ? "/" : path, S_ISREG(walk.status.st_mode) != 0, S_ISDIR(walk.status.st_mode) != 0};
}

std::optional<Rootfs::Resolved> Rootfs::resolve(std::string_view path) const {
  auto found = walk(path);
  if (!found) return std::nullopt;
  return walk_result(*found);
}

std::optional<std::string> Rootfs::read_small_file(std::string_view path, std::size_t limit) const {
  auto found = walk(path);
  if (!found || !S_ISREG(found->status.st_mode) || found->name.empty()) return std::nullopt;
  if (static_cast<std::uint64_t>(found->status.st_size) > limit) return std::nullopt;
  // Opened for reading only now that it is known to be a regular file; O_NONBLOCK and the check
  // after opening cover a file swapped for a FIFO or device in between.
  UniqueFd fd(::openat(found->directories.back().get(), found->name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_ino != found->status.st_ino ||
      st.st_dev != found->status.st_dev)
    return std::nullopt;
  std::string content;
  char buffer[8192];
  while (content.size() <= limit) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return content;
    content.append(buffer, static_cast<size_t>(n));
  }
  return std::nullopt;  // it grew past the limit while being read
}

bool Rootfs::plain_directories(std::string_view path) const {
  UniqueFd directory(::dup(root_.get()));
  for (const auto& name : components(path)) {
    if (!directory || name == "..") return false;
    UniqueFd next(::openat(directory.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return errno == ENOENT;
    struct stat st {};
    if (::fstat(next.get(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != device_) return false;
    directory = std::move(next);
  }
  return true;
}

std::vector<std::string> Rootfs::list_directories(std::string_view path) const {
  std::vector<std::string> out;
  auto found = walk(path);
  if (!found || !S_ISDIR(found->status.st_mode) || found->status.st_dev != device_) return out;
  int fd = ::openat(found->object.get(), ".", O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return out;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return out;
  }
  std::size_t seen = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (++seen > kMaxEntries) break;
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      out.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace runcvm::runtime
