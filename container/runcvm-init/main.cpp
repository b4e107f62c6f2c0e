// runcvm-init: PID 1 of a runcvm container. Starts virtiofsd on the container's root and QEMU
// booting the chosen kernel from it, relays the workload's stdin/stdout/stderr, signals and
// window size over the host<->VM channel, and exits with the workload's exit code.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "channel/boot_stages.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"
#include "common/reap.hpp"
#include "common/terminal.hpp"
#include "common/unix_socket.hpp"
#include "container/runcvm-init/console_tail.hpp"
#include "container/runcvm-init/container_root.hpp"
#include "container/runcvm-init/disks.hpp"
#include "container/runcvm-init/dns_forwarder.hpp"
#include "container/runcvm-init/exec_mux.hpp"
#include "container/runcvm-init/guest_ready.hpp"
#include "container/runcvm-init/held_files.hpp"
#include "container/runcvm-init/helper_ids.hpp"
#include "container/runcvm-init/helper_root.hpp"
#include "container/runcvm-init/hugepages.hpp"
#include "container/runcvm-init/image_initramfs.hpp"
#include "container/runcvm-init/kvm_verdicts.hpp"
#include "container/runcvm-init/mount_seal.hpp"
#include "container/runcvm-init/network_watcher.hpp"
#include "container/runcvm-init/network_wiring.hpp"
#include "container/runcvm-init/notice.hpp"
#include "container/runcvm-init/socket_relay.hpp"
#include "container/runcvm-init/supervisor.hpp"
#include "container/runcvm-init/tsc_rate.hpp"
#include "container/runcvm-init/vm_command.hpp"
#include "container/runcvm-init/vm_peers.hpp"
#include "container/runcvm-init/vm_template.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/machine.hpp"
#include "handoff/network.hpp"
#include "handoff/state_directory.hpp"
#include "handoff/vm_mounts.hpp"

namespace runcvm::container_init {
namespace {

using channel::realtime_ns;

bool wait_for_socket(const char* path, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  struct stat st {};
  while (std::chrono::steady_clock::now() < deadline) {
    if (::stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// Whether QEMU, with `qemu_ids` (nullopt: runcvm-init's), can use /dev/kvm.
bool kvm_usable(const std::optional<HelperIds>& qemu_ids) {
  UniqueFd fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) return false;
  return !qemu_ids || may_read_and_write(st.st_mode, st.st_uid, st.st_gid, *qemu_ids);
}

// A file of the image that QEMU loads into the VM (the image's kernel or initramfs): a regular
// file of at most `limit` bytes, opened without blocking on a FIFO the image may have put there,
// through the image's links but inside its root and never from runcvm's or the kernel's mounts
// (the state directory, /proc, /sys: their files would go into the guest's memory).
UniqueFd open_image_boot_file(const std::string& path, const char* what, std::uint64_t limit) {
  UniqueFd fd = ContainerRoot(std::string("the image's ") + what).open_regular(path, O_RDONLY);
  if (!fd) throw system_error(std::string("opening the image's ") + what, path, ENOENT);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw system_error(std::string("reading the image's ") + what, path, errno);
  if (static_cast<std::uint64_t>(st.st_size) > limit)
    throw Error(std::string("the image's ") + what + " " + quote(path) + " is " + std::to_string(st.st_size >> 20) +
                " MiB, more than a " + what + " can be (" + std::to_string(limit >> 20) + " MiB)")
        .with_hint("set RUNCVM_KERNEL=debian to boot a bundle kernel");
  return fd;
}

struct Children {
  pid_t qemu = -1;
  pid_t virtiofsd = -1;
};

// The container's network goes to the VM, read now rather than at `create`: Docker 26+ attaches
// interfaces between the two. The VM learns it from /.runcvm/network.json.
struct WiredNetwork {
  std::vector<Nic> nics;
  NetworkPlan plan;
  std::vector<WiredInterface> wired;                             // for the watcher of later changes
  UniqueFd resolv_conf;                                          // held for the watcher (held_files.hpp)
  std::vector<RelayedSocket> sockets;                            // held for their relays
  std::shared_ptr<VmPeers> peers = std::make_shared<VmPeers>();  // whom the services answer
};

WiredNetwork wire_container_network(const handoff::Launch& launch) {
  WiredNetwork out;
  NetworkPlan& plan = out.plan;
  net::Netlink netlink;
  // --network none, or an image without one: nothing to forward.
  out.resolv_conf = hold_regular_file(kResolvConfPath);
  std::string resolv_conf =
      out.resolv_conf ? read_held_file(out.resolv_conf.get(), kResolvConfPath, kResolvConfLimit) : "";
  plan = plan_network(netlink.links(), netlink.addresses(AF_UNSPEC), netlink.routes(AF_UNSPEC), resolv_conf,
                      launch.dns_upstreams, handoff::vnc_port(launch).has_value() || !launch.sockets.empty());
  for (const auto& warning : plan.warnings) notice(warning);
  out.nics = wire_network(plan);
  if (!plan.network.interfaces.empty()) {
    auto links = netlink.links();  // as wired: the taps are new
    for (std::size_t i = 0; i < plan.network.interfaces.size(); ++i) {
      const auto& interface = plan.network.interfaces[i];
      for (const auto& link : links)
        if (link.name == interface.name)
          out.wired.push_back({interface.name, link.index, i, false, "", interface.addresses, interface.mac});
    }
  }
  for (const auto& interface : plan.network.interfaces)
    for (const auto& address : interface.addresses) out.peers->allow(address);
  write_file_atomic(handoff::kNetworkPath, handoff::to_json_text(plan.network));
  // The VM reaches the container over its first interface's link; without one, it cannot.
  if (!launch.sockets.empty()) {
    if (!plan.host_side_address)
      notice(
          "the VM has no network (--network none): the host sockets bind-mounted into the container are not "
          "relayed to it");
    else
      for (const auto& path : launch.sockets) out.sockets.push_back({path, hold_socket(path)});
  }
  return out;
}

// The threads that serve the VM's network (DNS, relayed sockets): started only once runcvm-init
// has dropped what it drops, since capset(2) changes the calling thread alone.
void start_network_services(WiredNetwork& network) {
  if (network.plan.dns_forwarder)
    start_dns_forwarder({.listen_address = handoff::kHostSideAddress, .peers = network.peers});
  if (!network.sockets.empty())
    start_socket_relays(std::move(network.sockets), handoff::kHostSideAddress, network.peers);
}

// The host's random bytes for the VM's kernel (handoff::kSeedPath).
void write_seed() {
  std::string seed(handoff::kSeedBytes, '\0');
  if (::getrandom(seed.data(), seed.size(), 0) != static_cast<ssize_t>(seed.size()))
    throw system_error("reading random bytes for", handoff::kSeedPath, errno);
  write_file_atomic(handoff::kSeedPath, seed, std::filesystem::perms(0600));
}

// Every signal runcvm-init relays to the VM or acts on, read from a descriptor in the main loop.
UniqueFd block_signals() {
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGPIPE, SIGALRM})
    sigaddset(&handled, sig);
  // Real-time signals too: systemd images stop with SIGRTMIN+3.
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) sigaddset(&handled, sig);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  return UniqueFd(::signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC));
}

// A copy in memory of a file of the image that QEMU loads into the VM (held_files.hpp says why).
UniqueFd copy_image_boot_file(const std::string& path, const char* what, std::uint64_t limit) {
  UniqueFd file = open_image_boot_file(path, what, limit);
  return copy_to_sealed_memory(file.get(), std::string("the image's ") + what + " " + quote(path), limit);
}

// runcvm's initramfs for the image's kernel, complete and sealed in memory before QEMU sees it.
UniqueFd image_initramfs_memory(const handoff::Launch& launch, const BundleLayout& bundle) {
  std::string init_path = bundle.path(handoff::kBundleInitramfsInit);
  std::string archive = build_image_initramfs(ContainerRoot("the image's kernel modules"), launch.kernel.version,
                                              launch.qemu.machine, read_file(init_path));
  return sealed_memory_from(archive, "the initramfs for the image's kernel " + quote(launch.kernel.version));
}

// A write-only descriptor of runcvm-init's stdout or stderr, for one of QEMU's fd sets, which
// match a descriptor by its access mode (a terminal is open read-write). Opened without blocking
// (a FIFO whose reader is gone), then made blocking again, as QEMU's own open of it was.
UniqueFd write_only_copy(int fd, const char* name) {
  if ((::fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY) return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  UniqueFd copy(::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  if (!copy || ::fcntl(copy.get(), F_SETFL, ::fcntl(copy.get(), F_GETFL) & ~O_NONBLOCK) != 0)
    throw system_error("opening write-only for QEMU's output", std::string("runcvm-init's ") + name, errno);
  return copy;
}

// What QEMU boots, and the descriptors it inherits for it (the taps, the image's kernel files,
// its output, the disks). runcvm-init's copies are closed once QEMU runs.
struct PreparedBoot {
  BootFiles files;
  std::vector<int> inherited;
  UniqueFd image_kernel, image_initrd, console_output, bios_log;
  std::optional<ConsoleTail> console;  // the image kernel's console, read when it fails

  // Once QEMU runs (a TCG retry may still need them until then).
  void release_qemus_copies() {
    for (UniqueFd* fd : {&console_output, &bios_log}) fd->reset();
    if (console) console->release_write_end();  // QEMU's copy is the last: its exit ends the reader
  }
  // Once the guest has spoken, its kernel and initramfs are loaded: QEMU keeps the inherited
  // descriptors of their copies for its life, so their memory is given back by emptying them.
  void free_image_boot_copies() {
    for (UniqueFd* fd : {&image_kernel, &image_initrd})
      if (*fd) {
        [[maybe_unused]] int ignored = ::ftruncate(fd->get(), 0);
        fd->reset();
      }
  }
};

// Fills `boot` in place: the console's reader is a thread, which does not move.
void prepare_boot(const handoff::Launch& launch, const BundleLayout& bundle, const std::vector<Nic>& nics,
                  const std::vector<OpenedDisk>& disks, PreparedBoot& boot) {
  boot.files = {launch.kernel.vmlinuz, launch.kernel.initrd};
  for (const auto& nic : nics) boot.inherited.push_back(nic.tap_fd);
  if (launch.kernel.source == "bundle") {
    std::string direct = direct_boot_image_path(launch.kernel);
    if (::access(direct.c_str(), R_OK) == 0) boot.files.kernel = direct;
  } else {
    // The image's kernel, opened here, where the image's links resolve inside its root; QEMU, in
    // the helpers' root, reads a copy of it through a descriptor. It boots with runcvm's own
    // initramfs, built now from that kernel's modules (image_initramfs.hpp), never the image's.
    boot.image_kernel = copy_image_boot_file(launch.kernel.vmlinuz, "kernel", 256ull << 20);
    boot.image_initrd = image_initramfs_memory(launch, bundle);
    boot.files.kernel = "/proc/self/fd/" + std::to_string(boot.image_kernel.get());
    boot.files.initrd = "/proc/self/fd/" + std::to_string(boot.image_initrd.get());
    boot.inherited.insert(boot.inherited.end(), {boot.image_kernel.get(), boot.image_initrd.get()});
  }
  switch (console_sink(launch)) {
    case ConsoleSink::container_stdout:
      boot.console_output = write_only_copy(1, "stdout");
      break;
    case ConsoleSink::container_stderr:
      boot.console_output = write_only_copy(2, "stderr");
      break;
    case ConsoleSink::runcvm_init:
      boot.console.emplace();
      break;
    case ConsoleSink::none:
      break;
  }
  boot.files.console_fd = boot.console ? boot.console->write_fd() : boot.console_output.get();
  if (launch.qemu.bios_debug) boot.bios_log = write_only_copy(2, "stderr");
  boot.files.bios_log_fd = boot.bios_log.get();
  for (int fd : {boot.files.console_fd, boot.files.bios_log_fd})
    if (fd >= 0) boot.inherited.push_back(fd);
  if (launch.qemu.machine == "microvm") boot.files.tsc_khz = measure_tsc_khz();
  for (const auto& disk : disks) {
    boot.files.disks.push_back({disk.read_write.get(), disk.read_only.get()});
    boot.inherited.insert(boot.inherited.end(), {disk.read_write.get(), disk.read_only.get()});
  }
}

// Whether to try KVM first, and under which key a failure is remembered.
struct KvmPlan {
  bool try_kvm = false;
  std::optional<handoff::KvmVerdictKey> key = {};
};

KvmPlan plan_kvm(const handoff::Launch& launch, const BundleLayout& bundle, const BootFiles& boot,
                 const std::optional<HelperIds>& qemu_ids) {
  KvmPlan plan{.try_kvm = launch.qemu.accel != "tcg" && kvm_usable(qemu_ids)};
  if (!plan.try_kvm && launch.qemu.accel != "tcg")
    notice(
        "/dev/kvm is not available to QEMU (absent, or not open to its uid and groups): the VM runs under TCG "
        "emulation (slow)");
  // A bundle kernel that KVM failed to boot earlier since the host started fails again: go
  // straight to TCG. (An image's own kernel is always tried: it may be one this host's KVM runs.)
  if (plan.try_kvm && launch.qemu.accel == "auto" && launch.kernel.source == "bundle") {
    plan.key = kvm_verdict_key(bundle.qemu(), boot.kernel);
    if (auto failure = plan.key ? remembered_kvm_failure(*plan.key) : std::nullopt) {
      notice("KVM did not boot this kernel earlier since the host started (" + failure->reason +
             "): the VM runs under TCG emulation (slow; the verdict is kept in " + handoff::kKvmVerdictHostDirectory +
             " until the host restarts or the bundle changes)");
      plan.try_kvm = false;
    }
  }
  return plan;
}

// KVM failed this VM and TCG runs it: kept as a verdict only once the guest, under TCG, has
// spoken (a VM that fails both ways is not KVM's fault), and only for runcvm's own VM
// (handoff::kvm_verdict_applies).
struct PendingKvmFailure {
  handoff::KvmVerdictKey key;
  std::string reason;
};

// A VM whose QEMU has connected both ports.
struct StartedVm {
  Children children;
  UniqueFd channel, exec_port;
  UniqueFd qmp;                // QEMU's monitor, on machines that hot-plug
  std::optional<Qmp> monitor;  // the same, already in use: a VM restored from a template
  std::optional<PendingKvmFailure> kvm_failure;
};

// Ends a try's helpers, before the VM is started again.
void end_helpers(Children& children) {
  for (pid_t child : {children.qemu, children.virtiofsd}) {
    if (child <= 0) continue;
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
}

// How long a VM's QEMU is watched for a crash while the guest boots: a TCG boot on a busy host
// takes a few seconds.
constexpr auto kCrashWatch = std::chrono::seconds(30);

// Starts the VM from its template (vm_template.hpp) until the guest's init has spoken; nullopt,
// with one line in runcvm-init's log saying why, when it cannot (the VM is then booted).
std::optional<StartedVm> restore_from_template(const handoff::Launch& launch, const BundleLayout& bundle,
                                               const PreparedBoot& boot, const std::vector<Nic>& nics, bool use_kvm,
                                               const std::optional<HelperIds>& qemu_ids, int channel_listener,
                                               int exec_listener, int qmp_listener, Stages& stages) {
  if (handoff::template_refusal(launch) || qmp_listener < 0) return std::nullopt;
  if (nics.size() > handoff::kTemplateNicSlots) {
    notice("the VM boots (its template has slots for " + std::to_string(handoff::kTemplateNicSlots) +
           " networks, the container has " + std::to_string(nics.size()) + ")");
    return std::nullopt;
  }
  bool may_fall_back = use_kvm && launch.qemu.accel == "auto";
  TemplateBuilder builder{.launch = launch,
                          .bundle = bundle,
                          .files = boot.files,
                          .kvm = use_kvm,
                          .qemu_ids = qemu_ids,
                          .channel_listener = channel_listener,
                          .exec_listener = exec_listener,
                          .qmp_listener = qmp_listener,
                          .boot_limit = may_fall_back ? std::chrono::seconds(10) : std::chrono::seconds(60)};
  std::optional<handoff::TemplateKey> key;
  StartedVm vm;
  // A state that turns out damaged as it streams is rebuilt once, and the VM restored from that.
  for (bool rebuild : {false, true}) {
    std::optional<StatePump> pump;  // outlives QEMU: a pump still writing ends when QEMU does
    try {
      if (!key) key = template_key(builder);
      OpenedTemplate opened = open_template(*key, builder, rebuild);
      // QEMU starts while the RAM is copied and virtiofsd starts: neither is needed before the load.
      RamCopy ram(opened, launch);
      pump.emplace(std::move(opened));
      ::unlink(kVirtiofsSocket);
      vm.children.virtiofsd = spawn_helper(virtiofsd_command(launch, bundle), helper_environment(bundle), {},
                                           /*quiet=*/true);
      BootFiles files = boot.files;
      files.incoming_fd = pump->qemu_end();
      files.ram_fd = ram.fd();
      // The cards' taps go over QMP, after the load, with the cards.
      std::vector<int> inherited;
      for (int fd : boot.inherited)
        if (std::none_of(nics.begin(), nics.end(), [fd](const Nic& nic) { return nic.tap_fd == fd; }))
          inherited.push_back(fd);
      inherited.insert(inherited.end(), {pump->qemu_end(), ram.fd()});
      stages.host.qemu_spawn = realtime_ns();
      vm.children.qemu =
          spawn_helper(qemu_command(launch, bundle, use_kvm, files, nics, VmStart::restore), helper_environment(bundle),
                       inherited, /*quiet=*/true, HelperPrivileges{.drop_all = true, .ids = qemu_ids});
      pump->release_qemu_end();
      // QEMU's connections are taken before anything else can fail: left queued, a failed
      // restore's would be taken by the boot that follows it.
      vm.channel = accept_from_qemu(channel_listener, kChannelSocket, vm.children.qemu);
      vm.exec_port = accept_from_qemu(exec_listener, kExecPortSocket, vm.children.qemu);
      vm.monitor.emplace(accept_from_qemu(qmp_listener, kQmpSocket, vm.children.qemu));
      if (!wait_for_socket(kVirtiofsSocket, std::chrono::seconds(10))) throw Error("virtiofsd did not start");
      give_socket_to(kVirtiofsSocket, qemu_ids);
      ram.finish();
      attach_and_resume(*vm.monitor, *pump, files.incoming_fd, launch, nics, kCrashWatch);
      stages.host.resumed = realtime_ns();
      break;
    } catch (const DamagedTemplate& e) {
      end_helpers(vm.children);
      vm = {};
      if (rebuild) {
        notice(std::string("the VM boots instead of starting from its template: the rebuilt one is damaged too: ") +
               e.what());
        return std::nullopt;
      }
    } catch (const std::exception& e) {
      int status = 0;
      bool ended = vm.children.qemu > 0 && ::waitpid(vm.children.qemu, &status, WNOHANG) == vm.children.qemu;
      if (ended) vm.children.qemu = -1;
      // QEMU exiting by itself while it loads the state refused it: the next container builds another.
      bool refused = ended && WIFEXITED(status) && WEXITSTATUS(status) != 0;
      std::string how = refused ? " (QEMU refused the template's state; it is discarded)"
                        : ended && WIFSIGNALED(status)
                            ? " (QEMU was killed by " + describe_signal(WTERMSIG(status)) + ")"
                            : "";
      notice(std::string("the VM boots instead of starting from its template: ") + e.what() + how);
      end_helpers(vm.children);
      if (refused && key) discard_template(*key);
      return std::nullopt;
    }
  }
  ReadyOutcome ready = wait_for_guest_ready(vm.channel.get(), vm.children.qemu, vm.children.virtiofsd, kCrashWatch);
  if (ready.how == ReadyWait::qemu_exited) {
    notice(std::string("QEMU ended before the VM started from its template had spoken") +
           (ready.qemu_crashed ? " (killed by " + describe_signal(ready.qemu_signal) + ")" : "") + ": booting it");
    end_helpers(vm.children);
    stages.host.resumed = 0;
    return std::nullopt;
  }
  return vm;  // running, or ended in a way the supervisor reports
}

// Starts virtiofsd and QEMU until the guest's init has spoken (guest_ready.hpp): from a template
// where one applies, else by booting it. Two failures start the VM again, both before anything of the workload has run:
// - Some hosts offer /dev/kvm but cannot run this guest on it (nested virtualisation without the
//   CPU features the kernel needs): with the accelerator left to us, a VM that has not booted under
//   KVM within kKvmBootLimit starts again under TCG, rather than hanging for ever, and the failure
//   is remembered for later containers.
// - QEMU crashing while the guest boots starts it again, up to twice. Debian's QEMU 7.2 has such a crash
//   under TCG (multi-threaded TCG flushing a CPU's TLB while another commits a memory map change:
//   a segfault in memory_region_dispatch_write, fixed upstream in 8.2), seen once in some hundreds
//   of boots here. Twice, so that a crash of the boot that follows a crash (at that rate, one
//   container in some tens of thousands) still starts; a QEMU that crashes every time fails on
//   the third.
StartedVm start_vm(const handoff::Launch& launch, const BundleLayout& bundle, const PreparedBoot& boot,
                   const std::vector<Nic>& nics, KvmPlan kvm, const std::optional<HelperIds>& qemu_ids,
                   int channel_listener, int exec_listener, int qmp_listener, Stages& stages) {
  constexpr auto kKvmBootLimit = std::chrono::seconds(10);
  if (auto restored = restore_from_template(launch, bundle, boot, nics, kvm.try_kvm, qemu_ids, channel_listener,
                                            exec_listener, qmp_listener, stages))
    return std::move(*restored);
  StartedVm vm;
  constexpr int kCrashRestarts = 2;
  bool use_kvm = kvm.try_kvm;
  int crash_restarts = 0;
  auto start_again_after_crash = [&](int signal) {
    notice("QEMU was killed by " + describe_signal(signal) +
           " while the VM booted, before the workload started: starting the VM again");
    end_helpers(vm.children);
    std::optional<PendingKvmFailure> earlier = std::move(vm.kvm_failure);
    vm = {};
    vm.kvm_failure = std::move(earlier);
    ++crash_restarts;
  };
  for (;;) {
    bool may_fall_back = use_kvm && launch.qemu.accel == "auto";
    ::unlink(kVirtiofsSocket);
    vm.children.virtiofsd =
        spawn_helper(virtiofsd_command(launch, bundle), helper_environment(bundle), {},
                     /*quiet=*/!launch.kernel.debug);  // even at log_level=err it reports the VM's poweroff
    if (!wait_for_socket(kVirtiofsSocket, std::chrono::seconds(10))) throw Error("virtiofsd did not start");
    give_socket_to(kVirtiofsSocket, qemu_ids);
    stages.host.qemu_spawn = realtime_ns();
    // A KVM attempt that may be retried keeps QEMU's complaints about KVM off the user's stderr
    // (unless the console, which QEMU writes there, was asked for).
    vm.children.qemu = spawn_helper(qemu_command(launch, bundle, use_kvm, boot.files, nics), helper_environment(bundle),
                                    boot.inherited, /*quiet=*/may_fall_back && !launch.kernel.debug,
                                    HelperPrivileges{.drop_all = true, .ids = qemu_ids});

    // QEMU connects to the channel while it starts; it exiting first means it failed (its own
    // message is already on stderr).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool qemu_failed = false;
    int crash_signal = 0;  // QEMU crashed before it connected
    for (pollfd p{channel_listener, POLLIN, 0}; !qemu_failed && !crash_signal && ::poll(&p, 1, 50) <= 0;) {
      int status = 0;
      if (::waitpid(vm.children.qemu, &status, WNOHANG) == vm.children.qemu) {
        vm.children.qemu = -1;
        if (!may_fall_back && WIFSIGNALED(status) && is_crash_signal(WTERMSIG(status)) &&
            crash_restarts < kCrashRestarts)
          crash_signal = WTERMSIG(status);
        else if (!may_fall_back)
          throw Error("QEMU exited while starting (status " + std::to_string(status) + ")");
        else
          qemu_failed = true;  // KVM refused this VM (QEMU said why on stderr)
      }
      if (std::chrono::steady_clock::now() > deadline) throw Error("QEMU did not connect to the channel within 30 s");
    }
    if (crash_signal) {
      start_again_after_crash(crash_signal);
      continue;
    }
    std::string kvm_failure = "QEMU exited while starting under KVM";
    if (!qemu_failed) {
      vm.channel = UniqueFd(::accept4(channel_listener, nullptr, nullptr, SOCK_CLOEXEC));
      if (!vm.channel) throw system_error("accepting", kChannelSocket, errno);
      vm.exec_port = accept_from_qemu(exec_listener, kExecPortSocket, vm.children.qemu);
      if (qmp_listener >= 0) vm.qmp = accept_from_qemu(qmp_listener, kQmpSocket, vm.children.qemu);
      // QEMU connects before it sets up KVM: it exiting now means KVM refused the VM.
      ReadyOutcome ready = wait_for_guest_ready(vm.channel.get(), vm.children.qemu, vm.children.virtiofsd,
                                                may_fall_back ? kKvmBootLimit : kCrashWatch);
      if (may_fall_back && ready.how == ReadyWait::timed_out) {
        kvm_failure = "not booted within " + std::to_string(kKvmBootLimit.count()) + " s";
      } else if (!may_fall_back && ready.how == ReadyWait::qemu_exited && ready.qemu_crashed &&
                 crash_restarts < kCrashRestarts) {
        start_again_after_crash(ready.qemu_signal);
        continue;
      } else if (!may_fall_back || ready.how != ReadyWait::qemu_exited) {
        return vm;  // running, or ended in a way the supervisor reports
      }
    }
    notice("the VM did not boot under KVM (" + kvm_failure +
           "): starting it again under TCG emulation (slow; later containers on this host start under TCG at once)");
    end_helpers(vm.children);
    vm = {};
    if (kvm.key && handoff::kvm_verdict_applies(launch)) vm.kvm_failure = PendingKvmFailure{*kvm.key, kvm_failure};
    use_kvm = false;
  }
}

int run() {
  Stages stages;
  stages.host.init_start = realtime_ns();
  // Nothing in the container may read this process's memory or descriptors through /proc (QEMU
  // is a sibling; on hosts with ptrace_scope 0 it could otherwise write to runcvm-init).
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw system_error("setting", "runcvm-init undumpable", errno);
  require_state_directory_mounts();
  handoff::Launch launch = handoff::parse_launch(read_file(handoff::kLaunchPath));
  set_notices_to_stderr(launch.process.terminal || launch.kernel.debug);
  BundleLayout bundle;
  UniqueFd signals = block_signals();

  if (launch.hugetlb)
    if (auto problem = hugepages_problem(read_file("/proc/meminfo"), launch.memory_mib)) throw Error(*problem);
  std::vector<OpenedDisk> disks = prepare_disks(launch.disks);
  std::string why_not;
  std::optional<HelperIds> qemu_ids = container_init::qemu_ids(why_not);
  if (!qemu_ids) notice("QEMU runs as uid 0, still without any capability: " + why_not);
  if (::mkdir(kHelperSocketDirectory, 0755) != 0) throw system_error("creating", kHelperSocketDirectory, errno);
  UniqueFd listener = listen_unix(kChannelSocket, 1);
  UniqueFd exec_listener = listen_unix(kExecPortSocket, 1);
  UniqueFd qmp_listener = handoff::has_pci_bus(launch.qemu) ? listen_unix(kQmpSocket, 1) : UniqueFd();
  give_socket_to(kChannelSocket, qemu_ids);
  give_socket_to(kExecPortSocket, qemu_ids);
  if (qmp_listener) give_socket_to(kQmpSocket, qemu_ids);
  WiredNetwork network = wire_container_network(launch);
  std::vector<Nic>& nics = network.nics;
  // From here on the VM runs: its helpers get a root without the image in it, and CAP_SYS_ADMIN
  // (needed for that root's mounts) is gone unless the operator gave it to the container.
  if (launch.read_only_root) make_root_read_only(handoff::vm_mount_points(launch));
  write_seed();
  build_helper_root({handoff::kLaunchPath, handoff::kNetworkPath, handoff::kSeedPath});
  ::unlink(handoff::kSeedPath);  // the VM's copy is the only one
  seal_mounts();
  if (!launch.sys_admin) drop_sys_admin();
  start_network_services(network);
  PreparedBoot boot;
  prepare_boot(launch, bundle, nics, disks, boot);
  StartedVm vm = start_vm(launch, bundle, boot, nics, plan_kvm(launch, bundle, boot.files, qemu_ids), qemu_ids,
                          listener.get(), exec_listener.get(), qmp_listener.get(), stages);
  for (const auto& nic : nics) ::close(nic.tap_fd);
  if (qmp_listener) {  // QEMU is connected: nobody else is to be
    qmp_listener.reset();
    ::unlink(kQmpSocket);
  }
  boot.release_qemus_copies();
  ::fcntl(0, F_SETFL, ::fcntl(0, F_GETFL) | O_NONBLOCK);

  int code = 0;
  ExecMux exec(std::move(vm.exec_port), handoff::kExecSocket);
  start_network_watcher({.qmp = std::move(vm.qmp),
                         .monitor = std::move(vm.monitor),
                         .qemu = launch.qemu,
                         .wired = network.wired,
                         .dns_forwarder = network.plan.dns_forwarder,
                         .host_side_address = network.plan.host_side_address,
                         .dns_upstreams = launch.dns_upstreams,
                         .resolv_conf = std::move(network.resolv_conf),
                         .peers = network.peers,
                         .send_to_guest = exec.control_sender()});
  {
    RawTerminal raw(launch.process.terminal);
    std::optional<ConsoleTail>& console = boot.console;
    code = Supervisor({.channel = vm.channel.get(),
                       .signals = signals.get(),
                       .qemu = vm.children.qemu,
                       .virtiofsd = vm.children.virtiofsd,
                       .terminal = launch.process.terminal,
                       .exec_init = launch.exec_init,
                       .panic_device = handoff::has_panic_device(launch.qemu),
                       .guest_started =
                           [&vm, &boot] {
                             boot.free_image_boot_copies();
                             if (vm.kvm_failure) remember_kvm_failure(vm.kvm_failure->key, vm.kvm_failure->reason);
                           },
                       .silent_stop_reason = [&console, &launch]() -> std::string {
                         std::string tail = console ? console->summary() : "";
                         if (tail.empty()) return "";
                         return "the image's kernel " + quote(launch.kernel.version) +
                                " stopped; its console ended with \"" + tail +
                                "\"; set RUNCVM_KERNEL=debian to boot a bundle kernel";
                       }},
                      exec, stages)
               .run();
  }
  if (vm.children.virtiofsd > 0) ::kill(vm.children.virtiofsd, SIGTERM);
  // A QEMU stopped on the guest's `synced` did not flush the disks as it would have on its way
  // out: the guest's sync flushed what its filesystems write with barriers, this the rest.
  for (const auto& disk : disks)
    if (disk.read_write) ::fdatasync(disk.read_write.get());
  if (launch.timings && stages.complete)
    std::fprintf(stderr, "%s\n", channel::format_timings_line(stages.host, stages.guest).c_str());
  return code;
}

}  // namespace
}  // namespace runcvm::container_init

int main() {
  int code = 1;
  try {
    code = runcvm::container_init::run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", runcvm::format_error_line("runcvm-init", e).c_str());
  }
  // The detached threads (network watcher, DNS forwarder, socket relays) run until the process
  // ends. Leaving through exit() would destroy the statics they may still use as the main thread
  // finishes: CI once saw runcvm-init die of SIGSEGV right after printing its error, while QEMU's
  // end made the watcher throw. No static here needs destroying; stdio is flushed by hand.
  std::fflush(nullptr);
  std::_Exit(code);
}
