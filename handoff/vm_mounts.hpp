// The mounts the VM makes in the container's root itself, and the trees no option may aim at.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "handoff/bundle_layout.hpp"
#include "handoff/launch.hpp"
#include "handoff/state_directory.hpp"

namespace runcvm::handoff {

// The file systems runcvm-vm-init mounts itself on the VM's root, in order.
inline constexpr const char* kVmSystemMountPoints[] = {"/proc", "/sys", "/dev", "/run"};
// Every directory the VM mounts something on in its root (system file systems, --tmpfs, disks):
// with --read-only they must exist before the root turns read-only, as runc makes its mount
// points before it does.
std::vector<std::string> vm_mount_points(const Launch& launch);
// The container's binds and volumes below one of those mount points (a socket in /run, a volume
// inside a --tmpfs): the VM's own mount would hide them, so they are attached again on top.
// `resolve` gives a destination's path with the image's symlinks followed (on Debian /var/run is
// /run), as runc mounted it.
std::vector<std::string> covered_mounts(const Launch& launch,
                                        const std::function<std::string(const std::string&)>& resolve);

// The trees that are runcvm's or the kernel's in every container: no RUNCVM_DISKS file, no tree a
// disk is filled from and no --read-only mount point may be in them (the runtime checks the
// option's paths, runcvm-init where the image's links lead).
inline constexpr const char* kRuntimeOwnedTrees[] = {kStateDirectory, kBundleMountPoint, "/proc", "/sys", "/dev"};

}  // namespace runcvm::handoff
