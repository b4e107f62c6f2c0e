#include "handoff/launch.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "handoff/json_reader.hpp"
#include "handoff/process_document.hpp"

namespace runcvm::handoff {
namespace {

using detail::Json;
using detail::parse_json;
using detail::read_list;
using detail::Reader;

}  // namespace

namespace detail {

Json process_json(const Process& p) {
  Json rlimits = Json::array();
  for (const auto& r : p.rlimits) rlimits.push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
  Json out = {{"args", p.args},         {"env", p.env},       {"cwd", p.cwd},
              {"uid", p.uid},           {"gid", p.gid},       {"additional_gids", p.additional_gids},
              {"terminal", p.terminal}, {"rlimits", rlimits}, {"no_new_privileges", p.no_new_privileges}};
  if (p.umask) out["umask"] = *p.umask;
  if (p.oom_score_adj) out["oom_score_adj"] = *p.oom_score_adj;
  if (p.console_size) out["console_size"] = {{"height", p.console_size->first}, {"width", p.console_size->second}};
  if (const auto& c = p.capabilities)
    out["capabilities"] = {{"bounding", c->bounding},
                           {"effective", c->effective},
                           {"permitted", c->permitted},
                           {"inheritable", c->inheritable},
                           {"ambient", c->ambient}};
  return out;
}

Process read_process(Reader& r) {
  Process p;
  p.args = r.required<std::vector<std::string>>("args");
  if (p.args.empty()) throw Error(r.document() + ": field `" + r.path_of("args") + "`: must not be empty");
  p.env = r.required<std::vector<std::string>>("env");
  p.cwd = r.required<std::string>("cwd");
  p.uid = r.required<std::uint32_t>("uid");
  p.gid = r.required<std::uint32_t>("gid");
  p.additional_gids = r.required<std::vector<std::uint32_t>>("additional_gids");
  p.terminal = r.required<bool>("terminal");
  p.no_new_privileges = r.required<bool>("no_new_privileges");
  if (r.has("umask")) p.umask = r.required<std::uint32_t>("umask");
  if (r.has("oom_score_adj")) p.oom_score_adj = r.required<int>("oom_score_adj");
  if (r.has("console_size")) {
    Reader size(r.child("console_size"), r.path_of("console_size"), r.document());
    p.console_size = std::pair{size.required<unsigned>("height"), size.required<unsigned>("width")};
    size.finish();
  }
  p.rlimits = read_list<Rlimit>(r, "rlimits", [](Reader& item) {
    return Rlimit{item.required<std::string>("type"), item.required<std::uint64_t>("soft"),
                  item.required<std::uint64_t>("hard")};
  });
  if (r.has("capabilities")) {
    Reader c(r.child("capabilities"), r.path_of("capabilities"), r.document());
    using Names = std::vector<std::string>;
    p.capabilities =
        Capabilities{c.required<Names>("bounding"), c.required<Names>("effective"), c.required<Names>("permitted"),
                     c.required<Names>("inheritable"), c.required<Names>("ambient")};
    c.finish();
  }
  return p;
}

}  // namespace detail

using detail::process_json;
using detail::read_process;

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

std::string process_to_json_text(const Process& process) { return process_json(process).dump(); }

Process parse_process(std::string_view json_text) {
  Json root = parse_json(json_text, "exec request");
  Reader r(root, "", "exec request");
  Process p = read_process(r);
  r.finish();
  return p;
}

std::string to_json_text(const Launch& l) {
  Json mounts = Json::array(), tmpfs = Json::array(), disks = Json::array();
  for (const auto& m : l.mounts) mounts.push_back({{"destination", m.destination}, {"read_only", m.read_only}});
  for (const auto& t : l.tmpfs) tmpfs.push_back({{"destination", t.destination}, {"options", t.options}});
  for (const auto& d : l.disks) {
    Json disk = {{"source", d.source}, {"destination", d.destination}, {"filesystem", d.filesystem}};
    if (d.size_bytes) disk["size_bytes"] = *d.size_bytes;
    disks.push_back(disk);
  }
  const Kernel& k = l.kernel;
  Json qemu = {{"machine", l.qemu.machine},
               {"cpu", l.qemu.cpu},
               {"accel", l.qemu.accel},
               {"bios_debug", l.qemu.bios_debug},
               {"vga", l.qemu.vga},
               {"usb", l.qemu.usb},
               {"hotplug_slots", l.qemu.hotplug_slots}};
  if (l.qemu.vnc_display) qemu["vnc_display"] = *l.qemu.vnc_display;
  Json out = {
      {"version", l.version},
      {"process", process_json(l.process)},
      {"init", l.init},
      {"exec_init", l.exec_init},
      {"cpus", l.cpus},
      {"memory_mib", l.memory_mib},
      {"kernel",
       {{"source", k.source},
        {"dist", k.dist},
        {"version", k.version},
        {"vmlinuz", k.vmlinuz},
        {"initrd", k.initrd},
        {"modules", k.modules},
        {"append", k.append},
        {"debug", k.debug}}},
      {"mounts", mounts},
      {"sockets", l.sockets},
      {"container_only", l.container_only},
      {"tmpfs", tmpfs},
      {"shm_bytes", l.shm_bytes},
      {"sysctls", l.sysctls},
      {"hostname", l.hostname},
      {"host_network", l.host_network},
      {"read_only_root", l.read_only_root},
      {"disks", disks},
      {"sys_admin", l.sys_admin},
      {"display_mode", l.display_mode},
      {"qemu", qemu},
      {"hugetlb", l.hugetlb},
      {"cgroupfs", l.cgroupfs},
      {"virtiofs_cache", l.virtiofs_cache},
      {"timings", l.timings},
      {"dns_upstreams", l.dns_upstreams},
      {"breakpoints", l.breakpoints},
  };
  if (l.pids_limit) out["pids_limit"] = *l.pids_limit;
  return out.dump(2) + "\n";
}

Launch parse_launch(std::string_view json_text) {
  Json root = parse_json(json_text, "launch document");
  Reader r(root, "");
  Launch l;
  l.version =
      r.version("version", kLaunchVersion, "the runtime and the guest programs come from different runcvm versions");
  {
    Reader process(r.child("process"), "process");
    l.process = read_process(process);
    process.finish();
  }
  l.init = r.required<bool>("init");
  l.exec_init = r.required<bool>("exec_init");
  l.cpus = r.required<unsigned>("cpus");
  l.memory_mib = r.required<std::uint64_t>("memory_mib");
  {
    Reader k(r.child("kernel"), "kernel");
    l.kernel = Kernel{k.required<std::string>("source"),  k.required<std::string>("dist"),
                      k.required<std::string>("version"), k.required<std::string>("vmlinuz"),
                      k.required<std::string>("initrd"),  k.required<std::string>("modules"),
                      k.required<std::string>("append"),  k.required<bool>("debug")};
    k.finish();
  }
  l.mounts = read_list<Mount>(r, "mounts", [](Reader& m) {
    return Mount{m.required<std::string>("destination"), m.required<bool>("read_only")};
  });
  l.sockets = r.required<std::vector<std::string>>("sockets");
  // Each becomes a port of runcvm-init's and a path runcvm-init connects to: a bounded list of
  // absolute paths, nothing else.
  if (l.sockets.size() > kMaxSockets)
    throw Error("launch: " + std::to_string(l.sockets.size()) + " sockets: at most " + std::to_string(kMaxSockets));
  for (const auto& socket : l.sockets)
    if (socket.empty() || socket[0] != '/' || socket.find('\0') != std::string::npos)
      throw Error("launch: socket " + quote(socket) + ": expected an absolute path");
  l.container_only = r.required<std::vector<std::string>>("container_only");
  l.tmpfs = read_list<Tmpfs>(r, "tmpfs", [](Reader& t) {
    return Tmpfs{t.required<std::string>("destination"), t.required<std::vector<std::string>>("options")};
  });
  l.shm_bytes = r.required<std::uint64_t>("shm_bytes");
  l.sysctls = r.required<std::map<std::string, std::string>>("sysctls");
  if (r.has("pids_limit")) l.pids_limit = r.required<std::int64_t>("pids_limit");
  l.hostname = r.required<std::string>("hostname");
  l.host_network = r.required<bool>("host_network");
  l.read_only_root = r.required<bool>("read_only_root");
  l.disks = read_list<Disk>(r, "disks", [](Reader& d) {
    Disk disk{d.required<std::string>("source"), d.required<std::string>("destination"),
              d.required<std::string>("filesystem"), std::nullopt};
    if (d.has("size_bytes")) disk.size_bytes = d.required<std::uint64_t>("size_bytes");
    return disk;
  });
  l.sys_admin = r.required<bool>("sys_admin");
  l.display_mode = r.required<std::string>("display_mode");
  {
    Reader q(r.child("qemu"), "qemu");
    l.qemu.machine = q.required<std::string>("machine");
    l.qemu.cpu = q.required<std::string>("cpu");
    l.qemu.accel = q.required<std::string>("accel");
    l.qemu.bios_debug = q.required<bool>("bios_debug");
    l.qemu.vga = q.required<std::string>("vga");
    if (q.has("vnc_display")) l.qemu.vnc_display = q.required<unsigned>("vnc_display");
    l.qemu.usb = q.required<bool>("usb");
    l.qemu.hotplug_slots = q.required<unsigned>("hotplug_slots");
    if (l.qemu.hotplug_slots > kMaxHotplugSlots)
      throw Error("launch document: qemu.hotplug_slots is " + std::to_string(l.qemu.hotplug_slots) + ", more than " +
                  std::to_string(kMaxHotplugSlots));
    q.finish();
  }
  l.hugetlb = r.required<bool>("hugetlb");
  l.cgroupfs = r.required<std::string>("cgroupfs");
  l.virtiofs_cache = r.required<std::string>("virtiofs_cache");
  // It becomes an argument of virtiofsd: only a known mode, never an extra option.
  if (std::find(std::begin(kVirtiofsCacheModes), std::end(kVirtiofsCacheModes), l.virtiofs_cache) ==
      std::end(kVirtiofsCacheModes))
    throw Error("launch: virtiofs_cache " + quote(l.virtiofs_cache) + ": expected auto, always or none");
  l.timings = r.required<bool>("timings");
  l.dns_upstreams = r.required<std::vector<std::string>>("dns_upstreams");
  l.breakpoints = r.required<std::vector<std::string>>("breakpoints");
  r.finish();
  return l;
}

}  // namespace runcvm::handoff
