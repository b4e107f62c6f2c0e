// The fields of the launch document's types (fields.hpp), shared by the documents that carry a
// process: the launch document's workload, the exec request and the exec port's exec_open frame.
// Internal to handoff/.
#pragma once

#include <algorithm>
#include <string>

#include "common/error.hpp"
#include "handoff/fields.hpp"
#include "handoff/launch.hpp"
#include "handoff/socket_relays.hpp"

namespace runcvm::handoff::detail {

template <>
struct Fields<Rlimit> {
  static constexpr std::tuple list{field("type", &Rlimit::type), field("soft", &Rlimit::soft),
                                   field("hard", &Rlimit::hard)};
};

template <>
struct Fields<Capabilities> {
  static constexpr std::tuple list{
      field("bounding", &Capabilities::bounding), field("effective", &Capabilities::effective),
      field("permitted", &Capabilities::permitted), field("inheritable", &Capabilities::inheritable),
      field("ambient", &Capabilities::ambient)};
};

template <>
struct Fields<ConsoleSize> {
  static constexpr std::tuple list{field("height", &ConsoleSize::height), field("width", &ConsoleSize::width)};
};

template <>
struct Fields<Process> {
  static constexpr std::tuple list{field("args", &Process::args),
                                   field("env", &Process::env),
                                   field("cwd", &Process::cwd),
                                   field("uid", &Process::uid),
                                   field("gid", &Process::gid),
                                   field("additional_gids", &Process::additional_gids),
                                   field("terminal", &Process::terminal),
                                   field("rlimits", &Process::rlimits),
                                   field("no_new_privileges", &Process::no_new_privileges),
                                   field("umask", &Process::umask),
                                   field("oom_score_adj", &Process::oom_score_adj),
                                   field("console_size", &Process::console_size),
                                   field("capabilities", &Process::capabilities)};
  static void check(const Process& p, const Reader& r) {
    if (p.args.empty()) throw Error(r.document() + ": field `" + r.path_of("args") + "`: must not be empty");
  }
};

template <>
struct Fields<Kernel> {
  static constexpr std::tuple list{field("source", &Kernel::source),   field("dist", &Kernel::dist),
                                   field("version", &Kernel::version), field("vmlinuz", &Kernel::vmlinuz),
                                   field("initrd", &Kernel::initrd),   field("modules", &Kernel::modules),
                                   field("append", &Kernel::append),   field("debug", &Kernel::debug)};
};

template <>
struct Fields<Mount> {
  static constexpr std::tuple list{field("destination", &Mount::destination), field("read_only", &Mount::read_only)};
};

template <>
struct Fields<Tmpfs> {
  static constexpr std::tuple list{field("destination", &Tmpfs::destination), field("options", &Tmpfs::options)};
};

template <>
struct Fields<Disk> {
  static constexpr std::tuple list{field("source", &Disk::source), field("destination", &Disk::destination),
                                   field("filesystem", &Disk::filesystem), field("size_bytes", &Disk::size_bytes)};
};

template <>
struct Fields<Qemu> {
  static constexpr std::tuple list{field("machine", &Qemu::machine),
                                   field("cpu", &Qemu::cpu),
                                   field("accel", &Qemu::accel),
                                   field("bios_debug", &Qemu::bios_debug),
                                   field("vga", &Qemu::vga),
                                   field("usb", &Qemu::usb),
                                   field("hotplug_slots", &Qemu::hotplug_slots),
                                   field("balloon", &Qemu::balloon),
                                   field("vnc_display", &Qemu::vnc_display)};
  static void check(const Qemu& q, const Reader&) {
    if (q.hotplug_slots > kMaxHotplugSlots)
      throw Error("launch document: qemu.hotplug_slots is " + std::to_string(q.hotplug_slots) + ", more than " +
                  std::to_string(kMaxHotplugSlots));
  }
};

// The document's version is read and written apart (Reader::version), before these.
template <>
struct Fields<Launch> {
  static constexpr std::size_t kMembersApart = 1;
  static constexpr std::tuple list{field("process", &Launch::process),
                                   field("exec_init", &Launch::exec_init),
                                   field("cpus", &Launch::cpus),
                                   field("memory_mib", &Launch::memory_mib),
                                   field("kernel", &Launch::kernel),
                                   field("mounts", &Launch::mounts),
                                   field("sockets", &Launch::sockets),
                                   field("tmpfs", &Launch::tmpfs),
                                   field("shm_bytes", &Launch::shm_bytes),
                                   field("sysctls", &Launch::sysctls),
                                   field("hostname", &Launch::hostname),
                                   field("read_only_root", &Launch::read_only_root),
                                   field("disks", &Launch::disks),
                                   field("sys_admin", &Launch::sys_admin),
                                   field("display_mode", &Launch::display_mode),
                                   field("qemu", &Launch::qemu),
                                   field("hugetlb", &Launch::hugetlb),
                                   field("cgroupfs", &Launch::cgroupfs),
                                   field("virtiofs_cache", &Launch::virtiofs_cache),
                                   field("timings", &Launch::timings),
                                   field("template", &Launch::template_vm),
                                   field("dns_upstreams", &Launch::dns_upstreams),
                                   field("breakpoints", &Launch::breakpoints),
                                   field("pids_limit", &Launch::pids_limit)};
  static void check(const Launch& l, const Reader&) {
    // Each socket becomes a port of runcvm-init's and a path runcvm-init connects to: a bounded
    // list of absolute paths, nothing else.
    if (l.sockets.size() > kMaxSockets)
      throw Error("launch: " + std::to_string(l.sockets.size()) + " sockets: at most " + std::to_string(kMaxSockets));
    for (const auto& socket : l.sockets)
      if (socket.empty() || socket[0] != '/' || socket.find('\0') != std::string::npos)
        throw Error("launch: socket " + quote(socket) + ": expected an absolute path");
    // It becomes an argument of virtiofsd: only a known mode, never an extra option.
    if (std::find(std::begin(kVirtiofsCacheModes), std::end(kVirtiofsCacheModes), l.virtiofs_cache) ==
        std::end(kVirtiofsCacheModes))
      throw Error("launch: virtiofs_cache " + quote(l.virtiofs_cache) + ": expected auto, always or none");
  }
};

}  // namespace runcvm::handoff::detail
