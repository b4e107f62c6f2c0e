// RUNCVM_DISKS on the container's side: every disk's backing file exists before QEMU starts.
// A missing one is created at its size as an ext4 image holding what the container has at the
// disk's mount point (the image's content there), so the VM sees the same files on the disk; an
// existing one is used untouched, so data persists across containers (e.g. on a volume).
//
// The paths come from the container's environment, which the image's ENV is part of: each is
// resolved inside the container's root without magic links (openat2 RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS), must not land on a mount that is runcvm's or the kernel's (the state
// directory and the host's KVM verdicts in it, the bundle, /proc, /sys, /dev), and is opened here,
// before the VM runs: QEMU gets the descriptor, never the path, which the VM could rearrange.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "handoff/launch.hpp"

namespace runcvm::container_init {

// What is wrong with the disks as they stand (one line each, naming the entry); empty when every
// disk exists or can be created. `exists` says whether a path exists.
std::vector<std::string> disk_problems(const std::vector<handoff::Disk>& disks,
                                       const std::function<bool(const std::string&)>& exists);

// The mount ids (/proc/self/mountinfo's first field) of the mounts at or below the places no disk
// may be on.
std::set<std::uint64_t> runtime_mount_ids(std::string_view mountinfo);

// Checks all disks first (throws one Error listing every problem, creating nothing), then creates
// the missing ones, each through a temporary name renamed when complete. Returns each disk's
// backing file opened for reading and writing, in the disks' order.
std::vector<UniqueFd> prepare_disks(const std::vector<handoff::Disk>& disks);

}  // namespace runcvm::container_init
