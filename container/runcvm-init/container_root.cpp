#include "container/runcvm-init/container_root.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "common/error.hpp"
#include "common/file.hpp"
#include "common/text.hpp"
#include "handoff/launch.hpp"
#include "handoff/vm_mounts.hpp"

namespace runcvm::container_init {
namespace {

namespace fs = std::filesystem;

UniqueFd open_in_root(const std::string& root_path, const std::string& path, std::uint64_t flags) {
  open_how how{};
  // openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
  how.flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY | O_NONBLOCK);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd root(::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw system_error("opening", root_path, errno);
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how)));
}

std::uint64_t mount_id(int fd, const std::string& path) {
  struct statx st {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) != 0) throw system_error("reading", path, errno);
  if (!(st.stx_mask & STATX_MNT_ID)) throw Error("the kernel does not give mount ids (statx needs Linux 5.8)");
  return st.stx_mnt_id;
}

}  // namespace

std::set<std::uint64_t> runtime_mount_ids(std::string_view mountinfo) {
  // proc(5): "<id> <parent> <major:minor> <root> <mount point> …", the mount point with space,
  // tab, newline and backslash written as octal escapes, which the names compared here lack.
  std::set<std::uint64_t> ids;
  while (!mountinfo.empty()) {
    std::string_view line = mountinfo.substr(0, mountinfo.find('\n'));
    mountinfo.remove_prefix(std::min(mountinfo.size(), line.size() + 1));
    std::string_view fields[5];
    std::size_t found = 0;
    for (; found < 5 && !line.empty(); ++found) {
      fields[found] = line.substr(0, line.find(' '));
      line.remove_prefix(std::min(line.size(), fields[found].size() + 1));
    }
    std::uint64_t id = 0;
    auto [end, error] = std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), id);
    if (found < 5 || error != std::errc() || end != fields[0].data() + fields[0].size()) continue;
    for (std::string_view owned : handoff::kRuntimeOwnedTrees)
      if (at_or_below(fields[4], owned)) ids.insert(id);
  }
  return ids;
}

ContainerRoot::ContainerRoot(std::string what, std::string root)
    : what_(std::move(what)),
      root_(std::move(root)),
      forbidden_(runtime_mount_ids(read_file("/proc/self/mountinfo"))) {}

UniqueFd ContainerRoot::open(const std::string& path, std::uint64_t flags) const {
  UniqueFd fd = open_in_root(root_, path, flags);
  if (!fd && (errno == ENOENT || errno == ENOTDIR)) return fd;
  if (!fd) throw system_error(what_ + ": resolving", path, errno);
  if (forbidden_.count(mount_id(fd.get(), path)))
    throw Error(what_ + ": " + quote(path) +
                " leads into a place that is runcvm's or the kernel's (its state, the bundle, /proc, /sys, /dev)");
  return fd;
}

UniqueFd ContainerRoot::open_regular(const std::string& path, int flags) const {
  UniqueFd handle = open(path, O_PATH);
  if (!handle) return handle;
  struct stat st {};
  if (::fstat(handle.get(), &st) != 0) throw system_error(what_ + ": reading", path, errno);
  if (!S_ISREG(st.st_mode)) throw Error(what_ + ": " + quote(path) + " is not a regular file");
  std::string same_inode = "/proc/self/fd/" + std::to_string(handle.get());
  UniqueFd fd(::open(same_inode.c_str(), flags | O_CLOEXEC | O_NOCTTY));
  if (!fd) throw system_error(what_ + ": opening", path, errno);
  return fd;
}

UniqueFd ContainerRoot::make_directories(const std::string& path) const {
  fs::path made = "/";
  for (const auto& step : fs::path(path).relative_path()) {
    UniqueFd parent = open(made.string(), O_PATH | O_DIRECTORY);
    made /= step;
    if (!parent) throw system_error(what_ + ": creating", made.string(), ENOENT);
    if (::mkdirat(parent.get(), step.c_str(), 0755) != 0 && errno != EEXIST)
      throw system_error(what_ + ": creating", made.string(), errno);
  }
  UniqueFd fd = open(path, O_PATH | O_DIRECTORY);
  if (!fd) throw system_error(what_ + ": opening", path, ENOENT);
  return fd;
}

}  // namespace runcvm::container_init
