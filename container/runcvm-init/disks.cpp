#include "container/runcvm-init/disks.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/error.hpp"
#include "common/file.hpp"
#include "container/runcvm-init/held_files.hpp"
#include "container/runcvm-init/notice.hpp"
#include "disk/ext4_image.hpp"
#include "disk/populate.hpp"

namespace runcvm::container_init {
namespace {

namespace fs = std::filesystem;

// Where no disk, and no tree a disk is filled from, may be.
constexpr std::string_view kRuntimeOwned[] = {handoff::kStateDirectory, handoff::kBundleMountPoint, "/proc", "/sys",
                                              "/dev"};

bool at_or_below(std::string_view path, std::string_view directory) {
  return path == directory || (path.size() > directory.size() && path.substr(0, directory.size()) == directory &&
                               path[directory.size()] == '/');
}

// `path` resolved inside the container's root (runcvm-init's `/`): links stay inside it, and
// /proc's magic links, which lead anywhere, are refused.
UniqueFd open_in_root(const std::string& path, std::uint64_t flags, std::uint64_t mode = 0) {
  open_how how{};
  // openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
  how.flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY | O_NONBLOCK);
  how.mode = mode;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw system_error("opening", "/", errno);
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how)));
}

std::uint64_t mount_id(int fd, const std::string& path) {
  struct statx st {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) != 0) throw system_error("reading", path, errno);
  if (!(st.stx_mask & STATX_MNT_ID)) throw Error("the kernel does not give mount ids (statx needs Linux 5.8)");
  return st.stx_mnt_id;
}

class DiskOpener {
 public:
  DiskOpener() : forbidden_(runtime_mount_ids(read_file("/proc/self/mountinfo"))) {}

  // An existing path, resolved and checked; an empty descriptor when it does not exist.
  UniqueFd open(const handoff::Disk& disk, const std::string& path, std::uint64_t flags) const {
    UniqueFd fd = open_in_root(path, flags);
    if (!fd && (errno == ENOENT || errno == ENOTDIR)) return fd;
    if (!fd) throw system_error("RUNCVM_DISKS: resolving", path, errno);
    if (forbidden_.count(mount_id(fd.get(), path)))
      throw Error("RUNCVM_DISKS: " + quote(disk.source) + ": " + quote(path) +
                  " leads into a place that is runcvm's or the kernel's (its state, the bundle, /proc, /sys, /dev)");
    return fd;
  }

  // The backing file, opened for QEMU: a regular file.
  UniqueFd backing_file(const handoff::Disk& disk) const {
    UniqueFd fd = open(disk, disk.source, O_RDWR);
    if (!fd) throw system_error("RUNCVM_DISKS: opening", disk.source, ENOENT);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw system_error("RUNCVM_DISKS: reading", disk.source, errno);
    if (!S_ISREG(st.st_mode))
      throw Error("RUNCVM_DISKS: " + quote(disk.source) + " is not a regular file (a disk is an image file)");
    return fd;
  }

  // The directory the new file goes in, made if absent, one step at a time inside the root.
  UniqueFd parent_directory(const handoff::Disk& disk) const {
    fs::path parent = fs::path(disk.source).parent_path();
    fs::path made = "/";
    for (const auto& step : parent.relative_path()) {
      made /= step;
      if (::mkdirat(open(disk, made.parent_path().string(), O_PATH | O_DIRECTORY).get(), step.c_str(), 0755) != 0 &&
          errno != EEXIST)
        throw system_error("RUNCVM_DISKS: creating", made.string(), errno);
    }
    UniqueFd fd = open(disk, parent.string(), O_PATH | O_DIRECTORY);
    if (!fd) throw system_error("RUNCVM_DISKS: opening", parent.string(), ENOENT);
    return fd;
  }

 private:
  std::set<std::uint64_t> forbidden_;
};

void create_disk(const DiskOpener& opener, const handoff::Disk& d) {
  UniqueFd parent = opener.parent_directory(d);
  std::string name = fs::path(d.source).filename().string();
  std::string temporary = temporary_sibling(name).string();
  std::string directory = held_path(parent.get());
  UniqueFd tree = opener.open(d, d.destination, O_PATH | O_DIRECTORY);
  try {
    std::string from = tree ? held_path(tree.get()) : "";
    disk::Ext4Image image(directory + "/" + temporary, {*d.size_bytes, "", tree ? disk::count_entries(from) : 0});
    if (tree)
      disk::populate_from_directory(image, from, [](const std::string& note) { notice("RUNCVM_DISKS: " + note); });
    image.finish();
    if (::renameat(parent.get(), temporary.c_str(), parent.get(), name.c_str()) != 0)
      throw system_error("renaming", temporary, errno);
  } catch (const std::exception& e) {
    ::unlinkat(parent.get(), temporary.c_str(), 0);
    throw Error("RUNCVM_DISKS: creating " + quote(d.source) + " from " + quote(d.destination) + ": " + e.what());
  }
}

}  // namespace

std::vector<std::string> disk_problems(const std::vector<handoff::Disk>& disks,
                                       const std::function<bool(const std::string&)>& exists) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < disks.size(); ++i) {
    const auto& d = disks[i];
    std::string where = "RUNCVM_DISKS: entry " + std::to_string(i + 1) + " " + quote(d.source) + ": ";
    if (exists(d.source)) continue;
    if (!d.size_bytes)
      problems.push_back(where + "the file does not exist and no <size> was given to create it");
    else if (d.filesystem != "ext4")
      problems.push_back(where + "the file does not exist; only ext4 disks can be created (got " + quote(d.filesystem) +
                         ")");
  }
  return problems;
}

std::set<std::uint64_t> runtime_mount_ids(std::string_view mountinfo) {
  // proc(5): "<id> <parent> <major:minor> <root> <mount point> …", the mount point with space,
  // tab, newline and backslash written as octal escapes, which the names compared here lack.
  std::set<std::uint64_t> ids;
  std::istringstream lines{std::string(mountinfo)};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::uint64_t id = 0;
    std::string parent, device, root, point;
    if (!(fields >> id >> parent >> device >> root >> point)) continue;
    for (std::string_view owned : kRuntimeOwned)
      if (at_or_below(point, owned)) ids.insert(id);
  }
  return ids;
}

std::vector<UniqueFd> prepare_disks(const std::vector<handoff::Disk>& disks) {
  std::vector<UniqueFd> opened;
  if (disks.empty()) return opened;
  DiskOpener opener;
  auto exists = [&](const std::string& path) {
    for (const auto& d : disks)
      if (d.source == path) return static_cast<bool>(opener.open(d, path, O_PATH));
    return false;
  };
  auto problems = disk_problems(disks, exists);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw Error(all);
  }
  for (const auto& d : disks) {
    if (!exists(d.source)) create_disk(opener, d);
    opened.push_back(opener.backing_file(d));
  }
  return opened;
}

}  // namespace runcvm::container_init
