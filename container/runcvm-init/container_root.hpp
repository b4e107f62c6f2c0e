// The container's root as runcvm-init may touch it before the VM starts: the image's files, with
// its links. Every path is resolved inside the root without /proc's magic links (openat2
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), directories are made one step at a time from the
// descriptor of the step before, and nothing may land on a mount that is runcvm's or the
// kernel's: the state directory (with the host's KVM verdicts bound in it), the bundle, /proc,
// /sys and /dev. An image link such as `/data -> /sys/kernel` or `/run -> /proc/self/root/.runcvm`
// is refused in one line.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "common/fd.hpp"

namespace runcvm::container_init {

// The mount ids (/proc/self/mountinfo's first field) of the mounts at or below the places above.
std::set<std::uint64_t> runtime_mount_ids(std::string_view mountinfo);

class ContainerRoot {
 public:
  // `what` begins each error ("RUNCVM_DISKS", "--read-only"); `root` is the container's root
  // (another directory only in tests).
  explicit ContainerRoot(std::string what, std::string root = "/");

  // An existing path opened with `flags`; an empty descriptor when it (or a directory on the
  // way) does not exist.
  UniqueFd open(const std::string& path, std::uint64_t flags) const;
  // An existing regular file opened with `flags`; empty when absent. Found first as an O_PATH
  // descriptor and checked, then that same inode reopened: an image's device node or FIFO is
  // refused before any driver's open runs (a watchdog would start, a tape rewind).
  UniqueFd open_regular(const std::string& path, int flags) const;
  // The directory `path`, made where absent; an O_PATH descriptor of it.
  UniqueFd make_directories(const std::string& path) const;

 private:
  std::string what_;
  std::string root_;
  std::set<std::uint64_t> forbidden_;
};

}  // namespace runcvm::container_init
