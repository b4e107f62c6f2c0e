#include "handoff/vm_mounts.hpp"

namespace runcvm::handoff {

std::vector<std::string> vm_mount_points(const Launch& launch) {
  std::vector<std::string> out(std::begin(kVmSystemMountPoints), std::end(kVmSystemMountPoints));
  for (const auto& t : launch.tmpfs) out.push_back(t.destination);
  for (const auto& d : launch.disks) out.push_back(d.destination);
  return out;
}

std::vector<std::string> covered_mounts(const Launch& launch,
                                        const std::function<std::string(const std::string&)>& resolve) {
  std::vector<std::string> points = vm_mount_points(launch), out;
  for (const auto& mount : launch.mounts) {
    std::string destination = resolve(mount.destination);
    for (const auto& point : points)
      if (destination.size() > point.size() && destination.compare(0, point.size(), point) == 0 &&
          destination[point.size()] == '/') {
        out.push_back(destination);
        break;
      }
  }
  return out;
}

}  // namespace runcvm::handoff
