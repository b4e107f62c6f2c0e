// The VM's filesystems and identity before the workload starts: what runc would have set up for
// the container (proc, sys, dev, pts, shm, the requested tmpfs mounts, the hostname).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/fd.hpp"
#include "handoff/launch.hpp"
#include "handoff/vm_mounts.hpp"

namespace runcvm::vm_init {

// The container's binds and volumes that the VM's own mounts cover (handoff::covered_mounts):
// each is cloned from the virtiofs root before anything is mounted over it, and attached again
// at its path once the VM's mounts are in place (a docker.sock bound at /var/run stays there).
class CoveredMounts {
 public:
  explicit CoveredMounts(const handoff::Launch& launch);
  void attach();

 private:
  std::vector<std::pair<std::string, UniqueFd>> clones_;  // destination, its open_tree() clone
};

void mount_system_filesystems();
void apply_launch_settings(const handoff::Launch& launch);
// --pids-limit: a cgroup with pids.max for the workload and docker exec's processes, in the
// hierarchy RUNCVM_CGROUPFS mounted (v2, or v1's pids controller); "" when there is no limit or
// no cgroup filesystem (RUNCVM_CGROUPFS=none: then only the container's limit on the host holds).
std::string make_workload_cgroup(const handoff::Launch& launch);
// The virtio-serial port named `name` (/sys/class/virtio-ports/*/name), opened read-write.
int open_virtio_port(const std::string& name);
// Syncs the filesystems, tells the host so on `channel_port` (-1: no channel), and powers off.
[[noreturn]] void power_off(int channel_port);

}  // namespace runcvm::vm_init
