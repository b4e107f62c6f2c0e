// The image's root filesystem as the host runtime may read it: hostile data. Every path is
// resolved inside the root, one component at a time (links included, absolute targets taken
// relative to the root, ".." clamped at it), never through the host's own tree; only regular
// files are opened, without blocking, and read up to a small bound. Nothing here can reach a
// host file, a FIFO, a device or a file too big to hold.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/file.hpp"

namespace runcvm::runtime {

class Rootfs {
 public:
  // The largest file read_small_file returns: os-release and friends are a few hundred bytes.
  static constexpr std::size_t kSmallFileLimit = 64 * 1024;
  // Links followed in one resolution, as the kernel's own limit (ELOOP after 40).
  static constexpr int kMaxLinks = 40;
  // Entries list_directories looks at: /lib/modules holds one per installed kernel.
  static constexpr std::size_t kMaxEntries = 4096;

  // `root` is the bundle's rootfs, a host path taken from the spec (trusted: dockerd wrote it).
  explicit Rootfs(const fs::path& root);

  struct Resolved {
    std::string path;  // the in-root path after every link ("/boot/vmlinuz-6.1.0-18-amd64")
    bool regular = false;
    bool directory = false;
  };
  // What `path` names inside the root, or nothing when it does not exist, loops, or leaves the
  // root's filesystem.
  std::optional<Resolved> resolve(std::string_view path) const;
  // The content of a regular file of at most `limit` bytes; nothing for anything else.
  std::optional<std::string> read_small_file(std::string_view path, std::size_t limit = kSmallFileLimit) const;
  // Whether every component of `path` that exists is a directory, not a link or anything else
  // (the rest, absent, runc creates as directories). A mount point runcvm adds must be so: runc
  // follows a link (inside the root) to mount elsewhere, and a link stays the VM's to change.
  bool plain_directories(std::string_view path) const;
  // The names of the directories (not links) directly below `path`, sorted.
  std::vector<std::string> list_directories(std::string_view path) const;

 private:
  struct Walk;
  std::optional<Walk> walk(std::string_view path) const;
  static std::optional<Resolved> walk_result(const Walk& walk);

  UniqueFd root_;
  dev_t device_ = 0;
};

}  // namespace runcvm::runtime
