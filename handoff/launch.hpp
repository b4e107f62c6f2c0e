// The handoff to the VM: one versioned JSON document the runtime writes at `create` and the
// guest programs read (runcvm-init in the container, runcvm-vm-init in the VM). It carries the
// workload exactly as the container would have run it, plus how to build the VM. Our own format,
// so reading is strict: unknown keys, missing keys and wrong types are errors naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::handoff {

inline constexpr int kLaunchVersion = 2;

struct Rlimit {
  std::string type;  // RLIMIT_NOFILE, …
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// The capability sets of a process, by name ("CAP_CHOWN"), as the OCI spec lists them.
struct Capabilities {
  std::vector<std::string> bounding, effective, permitted, inheritable, ambient;
  bool operator==(const Capabilities&) const = default;
};

struct ConsoleSize {  // a terminal's, in characters
  unsigned height = 0, width = 0;
  bool operator==(const ConsoleSize&) const = default;
};

struct Process {
  std::vector<std::string> args;
  std::vector<std::string> env;  // exactly what the workload would see under runc
  std::string cwd = "/";
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> additional_gids;
  std::optional<std::uint32_t> umask;
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  // What runc would give the process; nullopt when the spec names none (runc then changes none).
  std::optional<Capabilities> capabilities;
  std::optional<int> oom_score_adj;  // --oom-score-adj: the workload's in the VM
};

struct Kernel {
  std::string source;   // "bundle": a runcvm-built kernel; "image": the image's own kernel
  std::string dist;     // bundle kernels: kernels/<dist>/
  std::string version;  // kernel release, as in /lib/modules/<version>
  std::string vmlinuz;  // paths as seen inside the container
  std::string initrd;   // "": a bundle kernel that mounts its virtiofs root itself boots without one;
                        // an image's is where it was found, never booted (image_initramfs.hpp)
  std::string modules;  // where /lib/modules/<version> is inside the container
  std::string append;   // RUNCVM_KERNEL_APPEND
  bool debug = false;   // RUNCVM_KERNEL_DEBUG
};

struct Mount {  // a user bind mount or volume the VM sees at its original path (over virtiofs)
  std::string destination;
  bool read_only = false;
};

struct Tmpfs {  // a --tmpfs the VM mounts itself, instead of the container
  std::string destination;
  std::vector<std::string> options;
};

struct Disk {                               // RUNCVM_DISKS entry
  std::string source;                       // backing file inside the container, e.g. /disks/data.img
  std::string destination;                  // mount point in the VM
  std::string filesystem;                   // ext4, …
  std::optional<std::uint64_t> size_bytes;  // create the file with this size when missing
};

// Each empty PCIe root port costs every start under TCG some 60 ms (firmware and kernel enumerate it).
inline constexpr unsigned kMaxHotplugSlots = 8;

struct Qemu {
  std::string machine = "q35";          // q35, pc, microvm
  std::string cpu;                      // "" = QEMU's default for the accelerator
  std::string accel = "auto";           // auto, kvm, tcg
  bool bios_debug = false;              // RUNCVM_BIOS_DEBUG: firmware messages on stderr
  std::string vga = "virtio";           // RUNCVM_QEMU_VGA, with display_mode vnc: virtio, std, cirrus, none
  std::optional<unsigned> vnc_display;  // RUNCVM_QEMU_VNC_DISPLAY: VNC on port 5900 + this
  bool usb = false;                     // RUNCVM_QEMU_USB: an XHCI controller
  unsigned hotplug_slots = 2;  // RUNCVM_QEMU_HOTPLUG_SLOTS: q35's empty root ports for networks connected later
  // RUNCVM_BALLOON: a virtio-balloon device through which the guest reports the pages it frees, and
  // QEMU gives them back to the host. It never inflates: nothing asks it to.
  bool balloon = true;
  bool operator==(const Qemu&) const = default;
};

struct Launch {
  int version = kLaunchVersion;
  Process process;
  // The workload is itself an init (systemd, /sbin/init): it replaces runcvm-vm-init as the VM's
  // PID 1, talks to the container's stdout through the VM's console, and powers the VM off.
  bool exec_init = false;
  unsigned cpus = 1;
  std::uint64_t memory_mib = 512;
  Kernel kernel;
  std::vector<Mount> mounts;
  // Host unix sockets the container has bind-mounted (docker.sock): in the VM a listening socket
  // at each path, whose connections runcvm-init carries to the container's socket. Not in `mounts`.
  std::vector<std::string> sockets;
  std::vector<Tmpfs> tmpfs;
  std::uint64_t shm_bytes = 64ull << 20;       // --shm-size: the size of the VM's /dev/shm
  std::map<std::string, std::string> sysctls;  // --sysctl: set in the VM's kernel too
  // --pids-limit: the VM holds the workload's processes (and docker exec's) to it in a cgroup of
  // their own; the container's limit is raised by what QEMU's and virtiofsd's threads need.
  std::optional<std::int64_t> pids_limit;
  std::string hostname;
  bool read_only_root = false;
  std::vector<Disk> disks;
  bool sys_admin = false;
  std::string display_mode = "headless";
  Qemu qemu;
  bool hugetlb = false;
  std::string cgroupfs = "2";
  // RUNCVM_VIRTIOFS_CACHE: virtiofsd's cache mode for the root and volumes (kVirtiofsCacheModes).
  std::string virtiofs_cache = "auto";
  bool timings = false;  // RUNCVM_TIMINGS: report where the start-up time went
  // RUNCVM_TEMPLATE: start the VM from a template of its kernel booted once (handoff/vm_template.hpp)
  // where one applies, rather than booting it.
  bool template_vm = true;
  // Where Docker's embedded DNS sends names it does not know (--dns, else the host's resolvers):
  // the VM asks them itself after runcvm-init's forwarder, whose namespace cannot reach them.
  std::vector<std::string> dns_upstreams;
  // RUNCVM_BREAK: the points of the VM's start-up (kBreakPoints) where a shell runs on the
  // container's terminal; start-up goes on when it exits.
  std::vector<std::string> breakpoints;
};

// virtiofsd's cache modes: auto (the guest caches and revalidates on open), always (the guest
// trusts its cache; changes made from the host side go unseen), none (no caching).
inline constexpr const char* kVirtiofsCacheModes[] = {"auto", "always", "none"};

std::string to_json_text(const Launch& launch);
// Throws runcvm::Error naming the field for anything that does not match the format exactly.
Launch parse_launch(std::string_view json_text);

// The process of a `docker exec` (exec_request.hpp), in the same form as Launch::process: the
// payload of the exec port's exec_open frame.
std::string process_to_json_text(const Process& process);
Process parse_process(std::string_view json_text);

}  // namespace runcvm::handoff
