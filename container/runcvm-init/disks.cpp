#include "container/runcvm-init/disks.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "common/error.hpp"
#include "common/file.hpp"
#include "container/runcvm-init/container_root.hpp"
#include "container/runcvm-init/held_files.hpp"
#include "container/runcvm-init/notice.hpp"
#include "disk/ext4_image.hpp"
#include "disk/populate.hpp"

namespace runcvm::container_init {
namespace {

namespace fs = std::filesystem;

// The backing file, opened for QEMU: a regular file.
UniqueFd backing_file(const ContainerRoot& root, const handoff::Disk& disk) {
  UniqueFd fd = root.open_regular(disk.source, O_RDWR);
  if (!fd) throw system_error("RUNCVM_DISKS: opening", disk.source, ENOENT);
  return fd;
}

void create_disk(const ContainerRoot& root, const handoff::Disk& d) {
  UniqueFd parent = root.make_directories(fs::path(d.source).parent_path().string());
  std::string name = fs::path(d.source).filename().string();
  std::string temporary = temporary_sibling(name).string();
  std::string directory = held_path(parent.get());
  UniqueFd tree = root.open(d.destination, O_PATH | O_DIRECTORY);
  // A link to the root would copy all of it, runcvm's state and the kernel's trees included.
  struct stat tree_status {
  }, root_status{};
  if (tree && ::fstat(tree.get(), &tree_status) == 0 && ::stat("/", &root_status) == 0 &&
      tree_status.st_dev == root_status.st_dev && tree_status.st_ino == root_status.st_ino)
    throw Error("RUNCVM_DISKS: " + quote(d.destination) + " leads to the container's root, which a disk cannot hold");
  // Made here, new and not through a link (the image may have put one at any name): the writer
  // below opens this file, and nothing of the image runs before the VM does.
  UniqueFd created(::openat(parent.get(), temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!created) throw system_error("RUNCVM_DISKS: creating", d.source, errno);
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

std::vector<OpenedDisk> prepare_disks(const std::vector<handoff::Disk>& disks) {
  std::vector<OpenedDisk> opened;
  if (disks.empty()) return opened;
  ContainerRoot root("RUNCVM_DISKS");
  auto exists = [&](const std::string& path) { return static_cast<bool>(root.open(path, O_PATH)); };
  auto problems = disk_problems(disks, exists);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw Error(all);
  }
  for (const auto& d : disks) {
    if (!exists(d.source)) create_disk(root, d);
    UniqueFd read_write = backing_file(root, d);
    // The same inode again, through the descriptor: nothing is looked up by path a second time.
    UniqueFd read_only(::open(held_path(read_write.get()).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!read_only) throw system_error("RUNCVM_DISKS: opening", d.source, errno);
    opened.push_back({std::move(read_write), std::move(read_only)});
  }
  return opened;
}

}  // namespace runcvm::container_init
