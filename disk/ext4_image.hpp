// An ext4 filesystem image written with libext2fs, without root, loop devices or mounts: a sparse
// file of the requested size, formatted (extents, 64bit, huge_file, dir_index, metadata_csum,
// a journal), then filled entry by entry from a tree source (populate.hpp) and finished.
//
// Directories are written in bulk when the image is finished: every entry of a directory is
// known by then, so its blocks are packed once, in order (linear in the number of entries),
// instead of inserting names one at a time as ext2fs_link (and so `mke2fs -d`) does, which scans
// the directory for room at each insert and slows down quadratically with its size.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace runcvm::disk {

struct ImageOptions {
  std::uint64_t size_bytes = 0;
  std::string label;  // at most 16 bytes
  // How many entries will be added, when the caller knows (0: not known): the inode table is
  // sized for them, fixed at format time.
  std::uint64_t expected_entries = 0;
};

struct Metadata {
  mode_t mode = 0;  // type and permission bits, as st_mode
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  timespec atime{}, mtime{}, ctime{};
  std::vector<std::pair<std::string, std::string>> xattrs;  // name (with namespace), value
};

// Delivers a regular file's contents: calls `write(offset, bytes)` with increasing offsets;
// gaps between calls are holes and stay unallocated.
using DataWriter = std::function<void(std::uint64_t offset, std::string_view bytes)>;
using DataSource = std::function<void(const DataWriter& write)>;

struct ImageStats {
  std::uint64_t files = 0, directories = 0, symlinks = 0, hard_links = 0, specials = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t inodes = 0;  // the filesystem's inode count, once finished
};

class Ext4Image {
 public:
  // Creates (truncates) `path` as a sparse file of the given size and formats it.
  Ext4Image(const std::string& path, const ImageOptions& options);
  ~Ext4Image();
  Ext4Image(const Ext4Image&) = delete;
  Ext4Image& operator=(const Ext4Image&) = delete;

  // Paths are relative to the image's root, without a leading slash ("" is the root). Parents
  // that were not added come into being as root-owned 0755 directories.
  void add_directory(const std::string& path, const Metadata& metadata);
  void add_file(const std::string& path, const Metadata& metadata, std::uint64_t size, const DataSource& data);
  void add_symlink(const std::string& path, const Metadata& metadata, const std::string& target);
  // Character and block devices (rdev), fifos.
  void add_special(const std::string& path, const Metadata& metadata, dev_t rdev);
  // Another name for an entry added earlier.
  void add_hard_link(const std::string& path, const std::string& existing_path);

  // Writes the directories and closes the filesystem; the image is complete after this.
  void finish();
  const ImageStats& stats() const { return stats_; }

 private:
  void write_file(const std::string& path, const Metadata& metadata, std::uint64_t size, const DataSource& data);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  ImageStats stats_;
};

}  // namespace runcvm::disk
