#include "container/runcvm-init/vm_command.hpp"

#include <map>

#include "channel/frame.hpp"
#include "channel/session.hpp"
#include "common/error.hpp"
#include "container/runcvm-init/helper_root.hpp"
#include "container/runcvm-init/vm_devices.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/kernel_artifact.hpp"
#include "handoff/machine.hpp"
#include "handoff/network.hpp"
#include "handoff/state_directory.hpp"

namespace runcvm::container_init {

namespace artifact = handoff::kernel_artifact;
namespace {

// Programs from the bundle run through the bundle's loader: the image may have none, or another.
std::vector<std::string> through_loader(const BundleLayout& bundle, const std::string& program) {
  return {bundle.loader(), "--library-path", bundle.libraries(), program};
}

// A virtio device on the machine's transport: PCI on q35 and pc; on microvm, which has no PCI bus,
// a virtio-mmio slot (QEMU's "-device" variants), which the kernel finds in the machine's ACPI table.
std::string virtio_device(const handoff::Launch& launch, const std::string& kind) {
  return kind + (handoff::has_pci_bus(launch.qemu) ? "-pci" : "-device");
}

// RUNCVM_DISPLAY_MODE=vnc: a graphics card and a USB tablet (absolute pointer, so the viewer's
// cursor and the guest's agree), and QEMU's VNC server. RUNCVM_QEMU_USB alone: the controller only.
void add_display(const handoff::Launch& launch, bool networked, std::vector<std::string>& argv) {
  bool vnc_mode = launch.display_mode == "vnc";
  if (vnc_mode) {
    static const std::map<std::string, std::string, std::less<>> cards = {
        {"virtio", "virtio-vga"}, {"std", "VGA"}, {"cirrus", "cirrus-vga"}};
    if (auto card = cards.find(launch.qemu.vga); card != cards.end())
      argv.insert(argv.end(), {"-device", card->second});
  }
  if (vnc_mode || launch.qemu.usb) argv.insert(argv.end(), {"-device", "qemu-xhci,id=usb"});
  if (vnc_mode) argv.insert(argv.end(), {"-device", "usb-tablet,bus=usb.0"});
  // The VM relays its port to this server on runcvm-init's address (handoff::kHostSideAddress): -p
  // reaches the VM's address. Only there: an interface the VM has not taken yet has Docker's
  // address in this namespace, and the server asks for no password. Without a network nothing
  // reaches it at all.
  if (auto port = handoff::vnc_port(launch))
    argv.insert(argv.end(), {"-vnc", std::string(networked ? handoff::kHostSideAddress : "127.0.0.1") + ":" +
                                         std::to_string(*port - 5900)});
}

// The fd sets of QEMU's own output; the disks' are 1, 2, … (one per disk). Their chardevs append:
// without append=on QEMU truncates what it opens, which a pipe refuses (EINVAL).
constexpr const char* kConsoleFdSet = "1000";
constexpr const char* kBiosLogFdSet = "1001";

}  // namespace

ConsoleSink console_sink(const handoff::Launch& launch) {
  if (launch.kernel.debug) return ConsoleSink::container_stderr;
  if (launch.exec_init) return ConsoleSink::container_stdout;
  if (launch.kernel.source != "bundle") return ConsoleSink::runcvm_init;
  return ConsoleSink::none;
}

std::vector<std::string> helper_environment(const BundleLayout& bundle) {
  // glibc.malloc.hugetlb=1: malloc asks for transparent huge pages (where the kernel's mode is
  // `madvise`, as on Debian). QEMU's machine set-up fills some 20 MB of heap in small blocks; on
  // 4 KiB pages that is 4,000 page faults, a third of its start (helper_root.cpp binds the files
  // glibc reads for it).
  return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "QEMU_MODULE_DIR=" + bundle.qemu_modules(),
          "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"};
}

std::vector<std::string> virtiofsd_command(const handoff::Launch& launch, const BundleLayout& bundle) {
  auto argv = through_loader(bundle, bundle.virtiofsd());
  argv.insert(argv.end(), {
                              std::string("--socket-path=") + kVirtiofsSocket,
                              // The container's root with its volumes, as the helper root holds it (helper_root.hpp).
                              "-o",
                              std::string("source=") + kSharedRoot,
                              // RUNCVM_VIRTIOFS_CACHE (auto by default: the guest caches, but revalidates on open,
                              // so changes made from the host side of a bind mount show up).
                              "-o",
                              "cache=" + launch.virtiofs_cache,
                              // chroot needs only CAP_SYS_CHROOT, which Docker grants; namespace mode needs SYS_ADMIN.
                              "-o",
                              "sandbox=chroot",
                              "-o",
                              "xattr",
                              // Its session messages would land on the container's stderr, mixed with the workload's.
                              "-o",
                              launch.kernel.debug ? "log_level=info" : "log_level=err",
                          });
  return argv;
}

std::string kernel_command_line(const handoff::Launch& launch, const BundleLayout& bundle, std::uint64_t tsc_khz,
                                VmStart start) {
  std::string line = "console=ttyS0 panic=-1 reboot=t";
  line += std::string(" ") + artifact::kFastBootArguments;
  if (tsc_khz != 0) line += " tsc_early_khz=" + std::to_string(tsc_khz);
  line += launch.kernel.debug ? " " + std::string(artifact::kCmdlineDebug) : " quiet loglevel=0";
  if (launch.kernel.source == "bundle" && launch.kernel.initrd.empty()) {
    // No initramfs: the kernel mounts the root by its tag, read-write as our initramfs does (a
    // --read-only root is made read-only on the container's side), and devtmpfs on /dev.
    line += std::string(" root=") + artifact::kRootTag + " rootfstype=virtiofs rw init=" + bundle.vm_init();
  } else {
    // runcvm's initramfs: a bundle kernel's, or the one built for an image's kernel from its own
    // modules (image_initramfs.hpp).
    line += " " + std::string(artifact::kCmdlineRootTag) + artifact::kRootTag + " " +
            std::string(artifact::kCmdlineInit) + bundle.vm_init();
  }
  if (start != VmStart::boot) line += " " + std::string(artifact::kCmdlineTemplate);
  if (!launch.kernel.append.empty()) line += " " + launch.kernel.append;
  return line;
}

std::string direct_boot_image_path(const handoff::Kernel& kernel) {
  std::size_t slash = kernel.vmlinuz.rfind('/');
  return kernel.vmlinuz.substr(0, slash == std::string::npos ? 0 : slash + 1) + artifact::kDirectBootImage;
}

namespace {

// TCG's translated-code cache: QEMU reserves 1 GiB by default and fills it as the guest runs new
// code (each `docker exec` adds about 1.3 MiB), so an idle VM's QEMU grew towards 1 GiB beyond its
// RAM. 128 MiB bounds that with no measurable cost to start or to a CPU-bound loop
// (docs/PERFORMANCE.md); past it QEMU flushes the cache and translates again.
constexpr unsigned kTcgTranslationCacheMiB = 128;

using Argv = std::vector<std::string>;

void add(Argv& argv, std::initializer_list<std::string> arguments) { argv.insert(argv.end(), arguments); }

// QEMU itself: no defaults, no display, its seccomp filter, and the machine, CPU and RAM.
void add_machine(const handoff::Launch& launch, const BundleLayout& bundle, bool kvm, const BootFiles& boot,
                 VmStart start, Argv& argv) {
  std::string accel = launch.qemu.accel == "auto" ? (kvm ? "kvm" : "tcg") : launch.qemu.accel;
  // With KVM the guest sees the host's CPU; QEMU 7.2 under nested KVM aborts setting
  // IA32_ARCH_CAPABILITIES ("failed to set MSR 0x10a"), and the guest only loses a hint that
  // makes it skip some mitigations, so that MSR is left out. TCG emulates its richest model.
  std::string cpu = !launch.qemu.cpu.empty() ? launch.qemu.cpu : accel == "kvm" ? "host,-arch-capabilities" : "max";
  std::string memory = std::to_string(launch.memory_mib) + "M";
  add(argv, {
                "-L", bundle.firmware(), "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                // QEMU's own seccomp filter: a guest that takes QEMU over still cannot exec, fork, change
                // its uid or use system calls QEMU no longer needs. It needs none of them: taps come as
                // descriptors, not through helper scripts.
                "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", "-machine",
                launch.qemu.machine, "-accel",
                accel == "tcg" ? "tcg,tb-size=" + std::to_string(kTcgTranslationCacheMiB) : accel, "-cpu", cpu, "-smp",
                std::to_string(launch.cpus), "-m", memory,
                // vhost-user-fs maps guest RAM into virtiofsd: the RAM must be shared memory. Huge pages
                // are taken all at start (prealloc): a host short of them fails now, not in the guest.
            });
  if (start == VmStart::boot) {
    add(argv, {"-object",
               "memory-backend-memfd,id=mem,size=" + memory + ",share=on" +
                   (launch.hugetlb ? ",hugetlb=on,hugetlbsize=2M,prealloc=on" : ""),
               "-numa", "node,memdev=mem"});
    return;
  }
  // A template's RAM, and a copy's, is a memfd of runcvm-init's (BootFiles::ram_fd), which QEMU
  // maps through its descriptor; the migration stream leaves it out (the x-ignore-shared capability,
  // set over QMP on both sides: QEMU 7.2 has no command-line switch for it): runcvm-init
  // saves the template's pages itself and fills each copy's memfd with them while QEMU starts,
  // before it loads the state (RamCopy).
  // Loading them through the stream would touch every page of a copy's RAM (QEMU reads each to
  // skip a zero page, and a read allocates a page of shared memory).
  if (boot.ram_fd < 0) throw Error("QEMU's command: the template's RAM has no descriptor");
  add(argv,
      {"-object",
       "memory-backend-file,id=mem,size=" + memory + ",share=on,mem-path=/proc/self/fd/" + std::to_string(boot.ram_fd),
       "-numa", "node,memdev=mem"});
}

// The container's root, served by virtiofsd under the tag the VM mounts. A template has none; a
// restored copy is given its device, and the socket to virtiofsd, after the load (QEMU 7.2 cannot
// migrate one; root_chardev), so that virtiofsd and QEMU start side by side.
void add_root(const handoff::Launch& launch, VmStart start, Argv& argv) {
  if (start != VmStart::boot) return;
  add(argv, {"-chardev", std::string("socket,id=fs,path=") + kVirtiofsSocket});
  add(argv, {"-device",
             virtio_device(launch, "vhost-user-fs") + ",chardev=fs,tag=" + artifact::kRootTag + ",queue-size=1024"});
}

// The channel to vm-init, and docker exec's port: its sessions never queue behind the workload's
// output.
void add_channel(const handoff::Launch& launch, Argv& argv) {
  add(argv, {"-chardev", std::string("socket,id=channel,path=") + kChannelSocket, "-device",
             virtio_device(launch, "virtio-serial"), "-device",
             std::string("virtserialport,chardev=channel,name=") + channel::kPortName, "-chardev",
             std::string("socket,id=exec,path=") + kExecPortSocket, "-device",
             std::string("virtserialport,chardev=exec,name=") + channel::kExecPortName});
}

void add_kernel(const handoff::Launch& launch, const BundleLayout& bundle, const BootFiles& boot, VmStart start,
                Argv& argv) {
  add(argv, {"-kernel", boot.kernel});
  if (!boot.initrd.empty()) add(argv, {"-initrd", boot.initrd});
  add(argv, {"-append", kernel_command_line(launch, bundle, boot.tsc_khz, start)});
  // QEMU's virtio-mmio transports speak legacy virtio unless told otherwise, and virtiofsd
  // (libvhost-user) serves only virtio 1.0 devices.
  if (!handoff::has_pci_bus(launch.qemu)) add(argv, {"-global", "virtio-mmio.force-legacy=false"});
}

// RUNCVM_DISKS: virtio-blk devices the VM finds by serial (runcvm-disk<N>, in the option's order).
// A template has none; a restored copy has their backends, and is given their devices after the load.
void add_disks(const handoff::Launch& launch, const BootFiles& boot, VmStart start, Argv& argv) {
  if (start == VmStart::build_template) return;
  if (boot.disks.size() != launch.disks.size())
    throw Error("QEMU's command: " + std::to_string(launch.disks.size()) + " disks but " +
                std::to_string(boot.disks.size()) + " opened");
  for (std::size_t i = 0; i < launch.disks.size(); ++i) {
    std::string id = "disk" + std::to_string(i);
    // A write the backing file's filesystem cannot take fails in the guest (werror=report): QEMU's
    // default pauses the VM on ENOSPC, for a monitor to resume, and there is none: the container
    // would hang.
    std::string set = std::to_string(i + 1);
    add(argv,
        {"-add-fd", "fd=" + std::to_string(boot.disks[i].read_write) + ",set=" + set, "-add-fd",
         "fd=" + std::to_string(boot.disks[i].read_only) + ",set=" + set, "-drive",
         "file=/dev/fdset/" + set + ",if=none,id=" + id + ",format=raw,discard=unmap,werror=report,rerror=report"});
    if (start == VmStart::boot)
      add(argv,
          {"-device", virtio_device(launch, "virtio-blk") + ",drive=" + id + ",serial=" + handoff::disk_serial(i)});
  }
}

// The container's interfaces, in order (the VM names them by MAC); no option ROM (a PCI card's):
// the kernel is booted directly, never from the network.
void add_nics(const handoff::Launch& launch, const std::vector<Nic>& nics, Argv& argv) {
  for (std::size_t i = 0; i < nics.size(); ++i) {
    std::string id = "net" + std::to_string(i);
    std::string device = virtio_device(launch, "virtio-net") + ",id=" + boot_card_id(i) + ",netdev=" + id +
                         ",mac=" + nics[i].mac + ",host_mtu=" + std::to_string(nics[i].mtu);
    if (handoff::has_pci_bus(launch.qemu)) device += ",romfile=";
    add(argv, {"-netdev", "tap,id=" + id + ",fd=" + std::to_string(nics[i].tap_fd), "-device", device});
  }
}

// Networks Docker connects while the VM runs come as hot-plugged cards (network_watcher.hpp),
// through QEMU's monitor; q35's root bus takes none, so it gets empty root ports for them.
// A template's come first, for the container's own devices (template_slots), the root's last:
// the guest takes hot-plugged devices one at a time, the last port's first (measured: the root
// then mounts about 20 ms sooner, the card's probe following while it does).
void add_hotplug(const handoff::Launch& launch, VmStart start, Argv& argv) {
  if (!handoff::has_pci_bus(launch.qemu)) return;
  add(argv, {"-chardev", std::string("socket,id=qmp,path=") + kQmpSocket, "-mon", "chardev=qmp,mode=control"});
  std::size_t chassis = 1;
  std::vector<std::string> slots;
  if (start != VmStart::boot) {
    TemplateSlots own = template_slots();
    slots.insert(slots.end(), own.nics.begin(), own.nics.end());
    slots.insert(slots.end(), own.disks.begin(), own.disks.end());
    slots.push_back(own.root);
  }
  for (const auto& slot : hotplug_slots(launch.qemu.machine, launch.qemu.hotplug_slots)) slots.push_back(slot);
  for (const auto& slot : slots)
    add(argv, {"-device", "pcie-root-port,id=" + slot + ",chassis=" + std::to_string(chassis++) + ",io-reserve=0"});
}

// The serial console shows kernel messages only when asked; the workload's output never uses it.
// A template's serial port is part of its machine: its copies keep one, connected to nothing when
// nobody reads the console (and the template's own, whose messages are nobody's).
void add_console(const handoff::Launch& launch, const BootFiles& boot, VmStart start, Argv& argv) {
  if (start == VmStart::build_template || (start == VmStart::restore && console_sink(launch) == ConsoleSink::none)) {
    add(argv, {"-chardev", "null,id=console", "-serial", "chardev:console"});
    return;
  }
  if (console_sink(launch) == ConsoleSink::none) {
    add(argv, {"-serial", "none"});
    return;
  }
  if (boot.console_fd < 0) throw Error("QEMU's command: the serial console has no descriptor");
  add(argv, {"-add-fd", "fd=" + std::to_string(boot.console_fd) + ",set=" + kConsoleFdSet, "-chardev",
             std::string("file,id=console,append=on,path=/dev/fdset/") + kConsoleFdSet, "-serial", "chardev:console"});
}

// A guest kernel's panic reaches QEMU through its panic device, and QEMU exits with status 1,
// told apart from a poweroff that never sent the workload's status.
void add_panic_device(const handoff::Launch& launch, Argv& argv) {
  if (handoff::has_panic_device(launch.qemu)) add(argv, {"-device", "pvpanic", "-action", "panic=exit-failure"});
}

// RUNCVM_BALLOON: free page reporting. The guest's driver hands QEMU runs of 2 MiB it has freed,
// and QEMU punches them out of the RAM memfd, which frees them for every process that maps it
// (virtiofsd too) and uncharges them from the container's memory cgroup. Nothing sends QEMU a
// target size, so the balloon never inflates. A template carries the device, so its copies do too.
void add_balloon(const handoff::Launch& launch, Argv& argv) {
  if (handoff::has_balloon(launch))
    add(argv, {"-device", virtio_device(launch, "virtio-balloon") + ",free-page-reporting=on"});
}

// SeaBIOS writes its log to I/O port 0x402; QEMU's debug console device catches it there.
void add_bios_log(const handoff::Launch& launch, const BootFiles& boot, Argv& argv) {
  if (!launch.qemu.bios_debug) return;
  if (boot.bios_log_fd < 0) throw Error("QEMU's command: SeaBIOS's log has no descriptor");
  add(argv, {"-add-fd", "fd=" + std::to_string(boot.bios_log_fd) + ",set=" + kBiosLogFdSet, "-chardev",
             std::string("file,id=bios,append=on,path=/dev/fdset/") + kBiosLogFdSet, "-device",
             "isa-debugcon,iobase=0x402,chardev=bios"});
}

// A template, and each copy of it: the generation id device, whose id QEMU picks anew at every
// start (guid=auto) and tells the guest's kernel after a restore, which reseeds its random pool
// (Linux 5.18+, CONFIG_VMGENID); and, for a copy, a wait for the saved state (runcvm-init sets the
// migration's capabilities, then has QEMU load it from BootFiles::incoming_fd).
void add_template_devices(const BootFiles& boot, VmStart start, Argv& argv) {
  if (start == VmStart::boot) return;
  add(argv, {"-device", "vmgenid"});
  if (start == VmStart::restore) {
    if (boot.incoming_fd < 0) throw Error("QEMU's command: the template's state has no descriptor");
    add(argv, {"-incoming", "defer"});
  }
}

}  // namespace

TemplateSlots template_slots() {
  TemplateSlots slots{.root = "runcvm-root-slot", .nics = {}, .disks = {}};
  for (std::size_t i = 0; i < handoff::kTemplateNicSlots; ++i)
    slots.nics.push_back("runcvm-nic-slot" + std::to_string(i));
  for (std::size_t i = 0; i < handoff::kTemplateDiskSlots; ++i)
    slots.disks.push_back("runcvm-disk-slot" + std::to_string(i));
  return slots;
}

nlohmann::json disk_device(const handoff::Launch& launch, std::size_t index, const std::string& slot) {
  nlohmann::json device = {{"driver", virtio_device(launch, "virtio-blk")},
                           {"id", "disk-device" + std::to_string(index)},
                           {"drive", "disk" + std::to_string(index)},
                           {"serial", handoff::disk_serial(index)}};
  if (!slot.empty()) device["bus"] = slot;
  return device;
}

nlohmann::json root_chardev() {
  return {{"id", "fs"},
          {"backend",
           {{"type", "socket"},
            {"data", {{"addr", {{"type", "unix"}, {"data", {{"path", kVirtiofsSocket}}}}}, {"server", false}}}}}};
}

nlohmann::json root_device(const handoff::Launch& launch, const std::string& slot) {
  nlohmann::json device = {{"driver", virtio_device(launch, "vhost-user-fs")},
                           {"id", "root-fs"},
                           {"chardev", "fs"},
                           {"tag", artifact::kRootTag},
                           {"queue-size", 1024}};
  if (!slot.empty()) device["bus"] = slot;
  return device;
}

std::vector<std::string> qemu_command(const handoff::Launch& launch, const BundleLayout& bundle, bool kvm,
                                      const BootFiles& boot, const std::vector<Nic>& nics, VmStart start) {
  Argv argv = through_loader(bundle, bundle.qemu());
  add_machine(launch, bundle, kvm, boot, start, argv);
  add_root(launch, start, argv);
  add_channel(launch, argv);
  add_kernel(launch, bundle, boot, start, argv);
  add_disks(launch, boot, start, argv);
  if (start == VmStart::boot) add_nics(launch, nics, argv);  // a copy's come through QMP, with their taps
  add_hotplug(launch, start, argv);
  add_console(launch, boot, start, argv);
  add_display(launch, !nics.empty(), argv);
  add_panic_device(launch, argv);
  add_balloon(launch, argv);
  add_bios_log(launch, boot, argv);
  add_template_devices(boot, start, argv);
  return argv;
}

}  // namespace runcvm::container_init
