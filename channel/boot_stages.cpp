#include "channel/boot_stages.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include "common/error.hpp"

namespace runcvm::channel {
namespace {

constexpr const char* kFields[] = {"initramfs", "vm_init", "workload_start", "workload_exit", "sent"};

double* field(GuestStages& s, std::string_view name) {
  if (name == "initramfs") return &s.initramfs;
  if (name == "vm_init") return &s.vm_init;
  if (name == "workload_start") return &s.workload_start;
  if (name == "workload_exit") return &s.workload_exit;
  if (name == "sent") return &s.sent;
  return nullptr;
}

long long rounded_ms(double ms) { return std::llround(ms); }

}  // namespace

std::string format_guest_stages(const GuestStages& stages) {
  GuestStages copy = stages;
  std::string out;
  char number[32];
  for (const char* name : kFields) {
    std::snprintf(number, sizeof number, "%.6f", *field(copy, name));
    if (!out.empty()) out += ' ';
    out += std::string(name) + "=" + number;
  }
  return out;
}

GuestStages parse_guest_stages(std::string_view text) {
  GuestStages stages;
  std::map<std::string, bool> seen;
  while (!text.empty()) {
    std::size_t end = text.find(' ');
    std::string_view item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    std::size_t eq = item.find('=');
    std::string name(item.substr(0, eq));
    double* slot = eq == std::string_view::npos ? nullptr : field(stages, name);
    if (!slot) throw Error("stages report: \"" + std::string(item) + "\": expected <stage>=<seconds>");
    std::string_view value = item.substr(eq + 1);
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), *slot);
    if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(*slot) || *slot < 0)
      throw Error("stages report: " + name + "=\"" + std::string(value) + "\": expected seconds, like 1.25");
    seen[name] = true;
  }
  for (const char* name : kFields)
    if (!seen[name]) throw Error(std::string("stages report: missing ") + name);
  return stages;
}

std::string format_timings_line(const HostStages& host, const GuestStages& guest) {
  auto ms = [](std::int64_t ns) { return static_cast<double>(ns) / 1e6; };
  // Guest second 0 on the host's clock: the report left at `sent` and arrived at once (the
  // channel's latency is well under a millisecond).
  double guest_zero = ms(host.stages_arrived) - guest.sent * 1000;
  auto guest_at = [&](double seconds) { return guest_zero + seconds * 1000; };
  std::string line = "runcvm: timings (ms):";
  auto add = [&](const char* name, double value) {
    line += " " + std::string(name) + "=" + std::to_string(rounded_ms(value));
  };
  add("helpers", ms(host.qemu_spawn) - ms(host.init_start));
  if (host.resumed != 0) {
    add("restore", ms(host.resumed) - ms(host.qemu_spawn));
    add("initramfs", guest_at(guest.vm_init) - ms(host.resumed));
  } else {
    add("qemu+firmware", guest_zero - ms(host.qemu_spawn));
    add("kernel", guest.initramfs * 1000);
    add("initramfs", (guest.vm_init - guest.initramfs) * 1000);
  }
  add("vm-init", (guest.workload_start - guest.vm_init) * 1000);
  add("workload", (guest.workload_exit - guest.workload_start) * 1000);
  add("shutdown", ms(host.qemu_exit) - guest_at(guest.workload_exit));
  add("total", ms(host.qemu_exit) - ms(host.init_start));
  line += " started_at=" + std::to_string(host.init_start / 1000000) +
          " ended_at=" + std::to_string(host.qemu_exit / 1000000);
  return line;
}

namespace {

std::int64_t clock_ns(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

}  // namespace

std::int64_t realtime_ns() { return clock_ns(CLOCK_REALTIME); }

std::int64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }

}  // namespace runcvm::channel
