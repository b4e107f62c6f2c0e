// An OCI mount's options (the spec's strings, as runc reads them) split into what mount(2) takes
// as flags and what it passes to the filesystem as data. Docker's --tmpfs options are all flags
// or sizes; containerd's and podman's carry atime modes too (containerd's /run: "strictatime"),
// which tmpfs refuses as data: every flag runc knows is a flag here.
#pragma once

#include <string>
#include <vector>

namespace runcvm::vm_init {

struct MountOptions {
  unsigned long flags = 0;
  std::string data;  // comma-separated, for the filesystem (size=, mode=, uid=…)
};

// Propagation options (private, rshared…) and runc's own tmpcopyup carry nothing for a fresh
// tmpfs in the VM and are left out.
MountOptions split_mount_options(const std::vector<std::string>& options);

}  // namespace runcvm::vm_init
