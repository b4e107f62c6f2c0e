// The command lines of the VM's host-side processes, built from the launch document as data
// (golden-tested), then spawned by runcvm-init. QEMU and virtiofsd come from the bundle with
// their own dynamic loader and libraries, so they run in any image (musl, glibc, distroless).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "handoff/bundle_layout.hpp"
#include "handoff/launch.hpp"
#include "handoff/state_directory.hpp"
#include "handoff/vm_template.hpp"

namespace runcvm::container_init {

using handoff::BundleLayout;
using handoff::kChannelSocket;
using handoff::kExecPortSocket;
using handoff::kHelperSocketDirectory;
using handoff::kQmpSocket;
using handoff::kVirtiofsSocket;

// One virtio-net device of the VM: its tap (an open descriptor QEMU inherits), MAC and MTU.
struct Nic {
  int tap_fd = -1;
  std::string mac;
  unsigned mtu = 1500;
};

std::vector<std::string> virtiofsd_command(const handoff::Launch& launch, const BundleLayout& bundle);
// The environment of QEMU and virtiofsd: QEMU loads its accelerator modules (TCG is one) from
// the bundle, not from the distribution path it was built with; malloc uses huge pages.
std::vector<std::string> helper_environment(const BundleLayout& bundle);
// What -kernel and -initrd load, as QEMU opens them in the helpers' root: for a bundle kernel the
// launch's vmlinuz (or the uncompressed vmlinux next to it, which QEMU enters directly (PVH)
// without running the kernel's decompressor) and initrd; for the image's own kernel, descriptors
// runcvm-init opened in the container (/proc/self/fd/N).
struct BootFiles {
  std::string kernel;
  std::string initrd;
  // Where QEMU writes what it writes itself, the serial console (console_sink) and SeaBIOS's log
  // (RUNCVM_BIOS_DEBUG): write-only descriptors runcvm-init opened, passed as fd sets. QEMU, with
  // a uid of its own, could not reopen the container's stdout or stderr (a pipe or terminal of
  // root's) by path. -1: not opened.
  int console_fd = -1;
  int bios_log_fd = -1;
  // The host's TSC rate, told to a microvm guest's kernel (tsc_rate.hpp); 0: let it calibrate.
  std::uint64_t tsc_khz = 0;
  // Each RUNCVM_DISKS backing file: a descriptor runcvm-init opened (disks.hpp), which QEMU
  // inherits and takes as an fd set (-add-fd): reopening it through /proc/self/fd would check the
  // file's permissions again, which QEMU, without capabilities, may not pass.
  struct DiskFds {
    int read_write = -1;
    int read_only = -1;
  };
  std::vector<DiskFds> disks = {};
  // VmStart::restore: the template's saved state, a descriptor QEMU inherits and loads (-incoming).
  int incoming_fd = -1;
  // A template and its copies (VmStart other than boot): the guest's RAM, a memfd QEMU inherits.
  int ram_fd = -1;
};
// How QEMU starts the VM: booting it; booting a template (vm_template.hpp), a VM with the fixed
// device set every copy of it has and none of the container's devices, to be saved once parked;
// or restoring such a copy from the template's saved state, paused, for runcvm-init to attach the
// container's root, cards and disks to the template's empty slots (template_slots) and resume it.
enum class VmStart { boot, build_template, restore };
// The template's empty PCIe root ports, in their fixed order: the root's, the network cards'
// (handoff::kTemplateNicSlots), the disks' (handoff::kTemplateDiskSlots), then the `hotplug` ones later networks take.
struct TemplateSlots {
  std::string root;
  std::vector<std::string> nics, disks;
};
TemplateSlots template_slots();
// Where the guest's serial console goes: stderr when debugging; an init as the VM's PID 1
// (systemd) writes to it, so stdout, as a systemd container's output does; the image's own
// kernel's console goes to runcvm-init, which tells the user its end when that kernel fails;
// otherwise nowhere.
enum class ConsoleSink { none, container_stdout, container_stderr, runcvm_init };
ConsoleSink console_sink(const handoff::Launch& launch);
std::vector<std::string> qemu_command(const handoff::Launch& launch, const BundleLayout& bundle, bool kvm,
                                      const BootFiles& boot, const std::vector<Nic>& nics = {},
                                      VmStart start = VmStart::boot);
// The virtio-blk device of RUNCVM_DISKS disk `index` (its backend is on QEMU's command line); the
// virtio-net device of a card of the container's, by position; the root's vhost-user-fs device:
// QMP device_add arguments, put on `slot` when it is not empty.
nlohmann::json disk_device(const handoff::Launch& launch, std::size_t index, const std::string& slot);
nlohmann::json root_device(const handoff::Launch& launch, const std::string& slot);
// The root device's socket to virtiofsd, as QMP chardev-add arguments (a restored VM's).
nlohmann::json root_chardev();
// The direct-boot image the builder leaves next to a bundle kernel's vmlinuz.
std::string direct_boot_image_path(const handoff::Kernel& kernel);
// The kernel command line: console, quiet unless debugging, our initramfs's keys (the bundle
// kernels' and the one built for an image's kernel; root= and init= for a bundle kernel that
// boots without one), then the user's
// RUNCVM_KERNEL_APPEND last so it can override.
std::string kernel_command_line(const handoff::Launch& launch, const BundleLayout& bundle, std::uint64_t tsc_khz = 0,
                                VmStart start = VmStart::boot);

}  // namespace runcvm::container_init
