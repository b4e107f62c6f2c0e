// RUNCVM_DISKS on the container's side: every disk's backing file exists before QEMU starts.
// A missing one is created at its size as an ext4 image holding what the container has at the
// disk's mount point (the image's content there), so the VM sees the same files on the disk; an
// existing one is used untouched, so data persists across containers (e.g. on a volume).
//
// The paths come from the container's environment, which the image's ENV is part of: each is
// resolved and made through container_root.hpp, and opened here, before the VM runs: QEMU gets
// the descriptor, never the path, which the VM could rearrange.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "handoff/launch.hpp"

namespace runcvm::container_init {

// What is wrong with the disks as they stand (one line each, naming the entry); empty when every
// disk exists or can be created. `exists` says whether a path exists.
std::vector<std::string> disk_problems(const std::vector<handoff::Disk>& disks,
                                       const std::function<bool(const std::string&)>& exists);

// A disk's backing file, opened twice: QEMU takes both as one fd set (-add-fd), from which it dups
// the descriptor whose access mode matches each open it makes (it probes read-only first).
struct OpenedDisk {
  UniqueFd read_write;
  UniqueFd read_only;
};

// Checks all disks first (throws one Error listing every problem, creating nothing), then creates
// the missing ones, each through a temporary name renamed when complete. Returns each disk's
// backing file opened, in the disks' order.
std::vector<OpenedDisk> prepare_disks(const std::vector<handoff::Disk>& disks);

}  // namespace runcvm::container_init
