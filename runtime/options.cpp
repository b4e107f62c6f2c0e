#include "runtime/options.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>

#include "common/error.hpp"
#include "common/text.hpp"
#include "handoff/break_points.hpp"
#include "handoff/machine.hpp"
#include "handoff/vm_mounts.hpp"

namespace runcvm::runtime {
namespace {

constexpr std::string_view kPrefix = "RUNCVM_";

// What is wrong with an option's value; no problem means the value was taken.
using Problem = std::optional<std::string>;
constexpr std::nullopt_t kTaken = std::nullopt;

// Each option: its documentation and its parser.
struct OptionSpec {
  OptionDoc doc;
  std::function<Problem(std::string_view, Options&)> parse;
};

Problem parse_bool(std::string_view value, bool& out) {
  if (value == "1" || value == "true")
    out = true;
  else if (value == "0" || value == "false" || value.empty())
    out = false;
  else
    return quote(value) + ": expected 1 or 0 (true or false)";
  return kTaken;
}

Problem parse_choice(std::string_view value, std::initializer_list<std::string_view> choices, std::string& out) {
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    std::string list;
    for (auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
    return quote(value) + ": expected one of " + list;
  }
  out = std::string(value);
  return kTaken;
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

bool plain_name(std::string_view s) {
  return !s.empty() && s != "." && s != ".." &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-~") ==
             std::string_view::npos;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  while (true) {
    size_t at = text.find(separator);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

// A disk's path names a place in the container's own files: no `.` or `..` steps (a walk out of
// where it seems to point), and nothing in the trees that are runcvm's or the kernel's (the state
// directory holds the host's KVM verdicts, a directory shared by every container on the host).
std::optional<std::string> disk_path_problem(std::string_view path) {
  for (std::string_view component : split(path, '/'))
    if (component == "." || component == "..") return "must not have `.` or `..` steps";
  for (std::string_view owned : handoff::kRuntimeOwnedTrees)
    if (at_or_below(path, owned)) return "must not be in " + std::string(owned) + " (runcvm's or the kernel's)";
  return std::nullopt;
}

Problem parse_disks(std::string_view value, Options& o) {
  o.disks.clear();
  if (value.empty()) return kTaken;
  auto entries = split(value, ';');
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::string_view entry = entries[i];
    std::string where = "entry " + std::to_string(i + 1) + " " + quote(entry) + ": ";
    auto fields = split(entry, ',');
    if (fields.size() < 3 || fields.size() > 4) return where + "expected <src>,<dst>,<fs>[,<size>]";
    handoff::Disk disk{std::string(fields[0]), std::string(fields[1]), std::string(fields[2]), std::nullopt};
    if (disk.source.empty() || disk.source.front() != '/') return where + "<src> must be an absolute path";
    if (disk.destination.empty() || disk.destination.front() != '/') return where + "<dst> must be an absolute path";
    if (disk.destination == "/") return where + "<dst> cannot be the root";
    if (auto problem = disk_path_problem(disk.source)) return where + "<src> " + *problem;
    if (auto problem = disk_path_problem(disk.destination)) return where + "<dst> " + *problem;
    static const std::vector<std::string_view> filesystems = {"ext4", "ext3", "ext2"};
    if (std::find(filesystems.begin(), filesystems.end(), disk.filesystem) == filesystems.end())
      return where + "<fs> " + quote(disk.filesystem) + " is not supported (ext4, ext3, ext2)";
    if (fields.size() == 4) {
      disk.size_bytes = parse_size(fields[3]);
      if (!disk.size_bytes || *disk.size_bytes == 0)
        return where + "<size> " + quote(fields[3]) + " is not a size like 512M or 5G";
    }
    o.disks.push_back(std::move(disk));
  }
  return kTaken;
}

// Names that are refused with what to do instead: options that once let a container's
// environment, which the image's ENV is part of, grant privilege (the operator now says it where an
// image cannot), and features that cannot work.
struct RefusedOption {
  std::string_view name;
  std::string_view instead;
};
constexpr RefusedOption kRefused[] = {
    {"RUNCVM_SYS_ADMIN", "the image's environment cannot grant capabilities: use docker run --cap-add SYS_ADMIN"},
    {"RUNCVM_RUNTIME_DEBUG",
     "the image's environment cannot turn on the host's debug log: set RUNCVM_RUNTIME_DEBUG=1 in the runtime's own "
     "environment or --runcvm-debug in its runtimeArgs"},
    // Not retired but refused: the container's terminal carries the workload's stdio, so QEMU's
    // curses display would have to share it.
    {"RUNCVM_QEMU_DISPLAY",
     "QEMU's own display (curses) on the container's terminal is not supported: use RUNCVM_DISPLAY_MODE=vnc and a VNC "
     "viewer, or RUNCVM_KERNEL_DEBUG=1 for the console's text"},
};

const std::vector<OptionSpec>& specs() {
  static const std::vector<OptionSpec> table = {
      {{"RUNCVM_KERNEL", "<dist>[/<version>]",
        "the image's own kernel, else the bundle's for the image's os-release ID, else debian",
        "kernel to boot from the bundle's kernels/<dist>/<version> (version: latest when omitted)"},
       [](std::string_view v, Options& o) -> Problem {
         auto slash = v.find('/');
         KernelRequest request{std::string(v.substr(0, slash)), std::nullopt};
         if (slash != std::string_view::npos) request.version = std::string(v.substr(slash + 1));
         if (!plain_name(request.dist) || (request.version && !plain_name(*request.version)))
           return quote(v) + ": expected <dist> or <dist>/<version>, e.g. debian or debian/6.1.0-18-amd64";
         o.kernel = request;
         return kTaken;
       }},
      {{"RUNCVM_KERNEL_APPEND", "text", "(none)", "extra kernel command-line arguments"},
       [](std::string_view v, Options& o) -> Problem {
         if (v.find('\n') != std::string_view::npos) return quote(v) + ": must be a single line";
         o.kernel_append = std::string(v);
         return kTaken;
       }},
      {{"RUNCVM_KERNEL_DEBUG", "1 or 0", "0", "show kernel and initramfs messages on the console"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.kernel_debug); }},
      {{"RUNCVM_BIOS_DEBUG", "1 or 0", "0", "show the firmware's (SeaBIOS) messages on the container's stderr"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.qemu.bios_debug); }},
      {{"RUNCVM_KERNEL_MOUNT_LIB_MODULES", "1 or 0", "0",
        "mount the kernel's modules over /lib/modules (hiding the image's) instead of only at /lib/modules/<version>"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.kernel_mount_lib_modules); }},
      {{"RUNCVM_DISKS", "<src>,<dst>,<fs>[,<size>][;…]", "(none)",
        "block devices for the VM: backing file <src> in the container (created with <size> when missing), mounted at "
        "<dst> with <fs> (ext4, ext3, ext2)"},
       parse_disks},
      {{"RUNCVM_CPUS", "1-256", "--cpus (rounded up) or the cpuset, else the host's CPUs", "virtual CPUs of the VM"},
       [](std::string_view v, Options& o) -> Problem {
         auto n = parse_number(v);
         if (!n || *n < 1 || *n > 256) return quote(v) + ": expected a whole number from 1 to 256";
         o.cpus = static_cast<unsigned>(*n);
         return kTaken;
       }},
      {{"RUNCVM_MEM", "<size> (512M, 2G)", "-m, else 512M",
        "memory of the VM; with -m, at most -m (the container's limit is the operator's)"},
       [](std::string_view v, Options& o) -> Problem {
         auto bytes = parse_size(v);
         if (!bytes || *bytes < (64ull << 20)) return quote(v) + ": expected a size of at least 64M, like 512M or 2G";
         o.memory_mib = *bytes >> 20;
         return kTaken;
       }},
      {{"RUNCVM_DISPLAY_MODE", "headless, vnc", "headless",
        "vnc: a graphics card (RUNCVM_QEMU_VGA), a USB tablet and QEMU's VNC server on the container's port 5900 (-p "
        "5900:5900)"},
       [](std::string_view v, Options& o) {
         return parse_choice(v, {"headless", "vnc"}, o.display_mode);
       }},
      {{"RUNCVM_QEMU_VGA", "virtio, std, cirrus, none", "virtio",
        "with RUNCVM_DISPLAY_MODE=vnc: the VM's graphics card (virtio-vga, QEMU's standard VGA, Cirrus, or none)"},
       [](std::string_view v, Options& o) {
         return parse_choice(v, {"virtio", "std", "cirrus", "none"}, o.qemu.vga);
       }},
      {{"RUNCVM_QEMU_VNC_DISPLAY", "0-99", "0 with RUNCVM_DISPLAY_MODE=vnc, else no VNC",
        "QEMU's VNC server on the container's port 5900 + this number (also with headless: the server without a "
        "graphics card)"},
       [](std::string_view v, Options& o) -> Problem {
         auto n = parse_number(v);
         if (!n || *n > 99) return quote(v) + ": expected a display number from 0 to 99 (VNC port 5900 + it)";
         o.qemu.vnc_display = static_cast<unsigned>(*n);
         return kTaken;
       }},
      {{"RUNCVM_QEMU_USB", "1 or 0", "0 (1 with RUNCVM_DISPLAY_MODE=vnc, for the tablet)",
        "a USB (XHCI) controller in the VM"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.qemu.usb); }},
      {{"RUNCVM_QEMU_HOTPLUG_SLOTS", "0-8", "2",
        "q35: empty PCIe slots for networks connected while the VM runs (docker network connect); each costs the "
        "start ~60 ms under TCG. pc hot-plugs without them; microvm cannot"},
       [](std::string_view v, Options& o) -> Problem {
         auto n = parse_number(v);
         if (!n || *n > handoff::kMaxHotplugSlots)
           return quote(v) + ": expected a number of hot-plug slots from 0 to " +
                  std::to_string(handoff::kMaxHotplugSlots);
         o.qemu.hotplug_slots = static_cast<unsigned>(*n);
         return kTaken;
       }},
      {{"RUNCVM_QEMU_MACHINE", "q35, pc, microvm", "q35",
        "QEMU machine type; microvm has no PCI bus (virtio-mmio devices), so no graphics card and no USB"},
       [](std::string_view v, Options& o) {
         return parse_choice(v, {"q35", "pc", "microvm"}, o.qemu.machine);
       }},
      {{"RUNCVM_QEMU_CPU", "<model>", "host with KVM, max with TCG", "QEMU CPU model (-cpu)"},
       [](std::string_view v, Options& o) -> Problem {
         if (v.empty() || v.find_first_of(" ,=\n") != std::string_view::npos)
           return quote(v) + ": expected a CPU model name such as host, max or Skylake-Server";
         o.qemu.cpu = std::string(v);
         return kTaken;
       }},
      {{"RUNCVM_QEMU_ACCEL", "auto, kvm, tcg", "auto", "accelerator: auto uses KVM when /dev/kvm exists, else TCG"},
       [](std::string_view v, Options& o) {
         return parse_choice(v, {"auto", "kvm", "tcg"}, o.qemu.accel);
       }},
      {{"RUNCVM_HUGETLB", "1 or 0", "0",
        "the VM's memory from the host's 2 MiB huge pages, all taken at start (the start fails naming vm.nr_hugepages "
        "when too few are free)"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.hugetlb); }},
      {{"RUNCVM_BALLOON", "1 or 0", "1",
        "the guest reports the memory it frees (a virtio-balloon device with free page reporting) and QEMU gives it "
        "back to the host, so the container's memory use falls after a peak; the balloon never inflates, so the "
        "workload's memory and -m stay what they are. Not with RUNCVM_HUGETLB, whose pages stay the VM's. 0 leaves the "
        "device out: the VM keeps every page it has once used, and a workload that frees and reallocates large "
        "blocks over and over saves the cost of giving them back and faulting them in again"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.qemu.balloon); }},
      {{"RUNCVM_CGROUPFS", "none, 1, 2, hybrid", "2",
        "which cgroup filesystems the VM mounts (2: the unified hierarchy, as Docker gives containers on a cgroup v2 "
        "host)"},
       [](std::string_view v, Options& o) {
         return parse_choice(v, {"none", "1", "2", "hybrid"}, o.cgroupfs);
       }},
      {{"RUNCVM_VIRTIOFS_CACHE", "auto, always, none", "auto",
        "how the VM caches its root and volumes (virtiofsd's cache mode): auto revalidates on open, so changes made "
        "from the host side of a volume show; always trusts the VM's cache (faster; such changes may go unseen); none "
        "caches nothing"},
       [](std::string_view v, Options& o) {
         return parse_choice(v, {"auto", "always", "none"}, o.virtiofs_cache);
       }},
      {{"RUNCVM_CAPS", "auto, spec", "auto",
        "the workload's capabilities in the VM: auto gives every capability (the VM's kernel is its own) unless the "
        "operator narrowed the engine's default set (--cap-drop), which then holds exactly as under runc; spec keeps "
        "the container's sets as they are. The container's own, on the host, never change"},
       [](std::string_view v, Options& o) {
         return parse_choice(v, {"auto", "spec"}, o.capabilities);
       }},
      {{"RUNCVM_TEMPLATE", "1 or 0", "1",
        "start the VM from a template (its kernel booted once on this host, saved, and restored for each container) "
        "instead of booting it; 0 boots it. A VM a template cannot carry boots (an image's own kernel, "
        "RUNCVM_KERNEL_APPEND, RUNCVM_KERNEL_DEBUG, RUNCVM_BIOS_DEBUG, RUNCVM_HUGETLB, a display or USB, a machine "
        "other than q35, more than 2 disks or 4 networks), and so does one whose template fails to restore"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.template_vm); }},
      {{"RUNCVM_TIMINGS", "1 or 0", "0",
        "when the container exits, print on stderr where its start-up and shutdown time went"},
       [](std::string_view v, Options& o) { return parse_bool(v, o.timings); }},
      {{"RUNCVM_EXEC_TIMEOUT", "0-86400 (seconds)", "120",
        "how long `docker exec` waits for the VM's exec agent while the VM boots (set on the container or per exec "
        "with -e)"},
       [](std::string_view v, Options& o) -> Problem {
         auto n = parse_number(v);
         if (!n || *n > handoff::kExecWaitMaxSeconds)
           return quote(v) + ": expected a whole number of seconds from 0 to " +
                  std::to_string(handoff::kExecWaitMaxSeconds);
         o.exec_timeout_seconds = static_cast<unsigned>(*n);
         return kTaken;
       }},
      {{"RUNCVM_BREAK", "<point>[,<point>…]", "(none)",
        "with -it: stop the VM's start-up at these points (prenet, postnet, preworkload) with a shell (the bundle's "
        "busybox) on the terminal; exit it to go on"},
       [](std::string_view v, Options& o) -> Problem {
         o.breakpoints.clear();
         if (v.empty()) return kTaken;
         for (auto point : split(v, ',')) {
           if (std::find(std::begin(handoff::kBreakPoints), std::end(handoff::kBreakPoints), point) ==
               std::end(handoff::kBreakPoints))
             return quote(point) +
                    " is not a break point: they are in the VM (prenet, postnet, preworkload); a shell "
                    "outside it would run the image's programs there";
           o.breakpoints.emplace_back(point);
         }
         return kTaken;
       }},
  };
  return table;
}

// Options that are each valid but together ask for what the VM cannot have.
std::vector<std::string> combination_problems(const Options& o) {
  std::vector<std::string> out;
  if (!handoff::has_pci_bus(o.qemu)) {
    // QEMU's graphics cards and USB controllers (the tablet's) are PCI devices.
    if (o.display_mode == "vnc")
      out.push_back(
          "RUNCVM_DISPLAY_MODE: \"vnc\" needs a graphics card and a USB tablet, which "
          "RUNCVM_QEMU_MACHINE=microvm cannot have (no PCI bus): use q35");
    if (o.qemu.usb)
      out.push_back(
          "RUNCVM_QEMU_USB: a USB controller needs a PCI bus, which RUNCVM_QEMU_MACHINE=microvm has not: use q35");
  }
  return out;
}

}  // namespace

const std::vector<OptionDoc>& option_table() {
  static const std::vector<OptionDoc> docs = [] {
    std::vector<OptionDoc> out;
    for (const auto& spec : specs()) out.push_back(spec.doc);
    return out;
  }();
  return docs;
}

Options parse_options(const std::vector<std::string>& env) {
  Options options;
  std::string problems;
  // The last assignment of a name wins, as for any environment variable.
  std::map<std::string, std::string, std::less<>> values;
  for (const auto& entry : env)
    if (entry.starts_with(kPrefix)) {
      size_t eq = entry.find('=');
      values[entry.substr(0, eq)] = eq == std::string::npos ? "" : entry.substr(eq + 1);
    }
  for (const auto& entry : values) {
    const std::string& name = entry.first;
    const std::string& value = entry.second;
    auto spec = std::find_if(specs().begin(), specs().end(), [&](const OptionSpec& s) { return s.doc.name == name; });
    auto refused =
        std::find_if(std::begin(kRefused), std::end(kRefused), [&](const RefusedOption& r) { return r.name == name; });
    Problem problem = spec != specs().end()           ? spec->parse(value, options)
                      : refused != std::end(kRefused) ? Problem(refused->instead)
                                                      : Problem("unknown option (see docs/options.md)");
    if (problem) problems += (problems.empty() ? "" : "; ") + name + ": " + *problem;
  }
  for (const auto& problem : combination_problems(options)) problems += (problems.empty() ? "" : "; ") + problem;
  if (!problems.empty()) throw Error(problems);
  return options;
}

std::vector<std::string> workload_env(const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const auto& entry : env)
    if (!entry.starts_with(kPrefix)) out.push_back(entry);
  return out;
}

}  // namespace runcvm::runtime
