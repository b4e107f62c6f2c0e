#include "handoff/launch.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "handoff/launch_fields.hpp"

namespace runcvm::handoff {

using detail::Json;
using detail::parse_json;
using detail::read_object;
using detail::Reader;
using detail::to_json;
using detail::write_fields;

std::optional<unsigned> vnc_port(const Launch& launch) {
  if (launch.display_mode != "vnc" && !launch.qemu.vnc_display) return std::nullopt;
  return 5900 + launch.qemu.vnc_display.value_or(0);
}

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

std::string process_to_json_text(const Process& process) { return to_json(process).dump(); }

Process parse_process(std::string_view json_text) {
  Json root = parse_json(json_text, "exec request");
  Reader r(root, "", "exec request");
  Process p = read_object<Process>(r);
  r.finish();
  return p;
}

std::string to_json_text(const Launch& launch) {
  Json out = {{"version", launch.version}};
  write_fields(out, launch);
  return out.dump(2) + "\n";
}

Launch parse_launch(std::string_view json_text) {
  Json root = parse_json(json_text, "launch document");
  Reader r(root, "");
  int version =
      r.version("version", kLaunchVersion, "the runtime and the guest programs come from different runcvm versions");
  Launch launch = read_object<Launch>(r);
  launch.version = version;
  r.finish();
  return launch;
}

}  // namespace runcvm::handoff
