// The kernel artifact contract, one home for every side of it: the builder writes the layout,
// the runtime picks a kernel from it and mounts its modules, runcvm-init boots it with the command
// line below, and the initramfs init reads that command line.
//   <bundle>/kernels/<dist>/<version>/{vmlinuz, [vmlinux,] initrd, config, modules/, kernel.json}
//   <bundle>/kernels/<dist>/latest -> <version>
#pragma once

#include <string>
#include <string_view>

namespace runcvm::handoff::kernel_artifact {

inline constexpr const char* kKernelsDirectory = "kernels";
inline constexpr const char* kKernelImage = "vmlinuz";
// The uncompressed kernel, present when it can be booted directly through its PVH entry point
// (direct_boot.hpp); runcvm-init prefers it to vmlinuz.
inline constexpr const char* kDirectBootImage = "vmlinux";
inline constexpr const char* kInitramfs = "initrd";
inline constexpr const char* kConfig = "config";
inline constexpr const char* kModules = "modules";       // the lib/modules/<version> tree, with kmod indexes
inline constexpr const char* kManifest = "kernel.json";  // kernel_manifest.hpp
inline constexpr const char* kLatest = "latest";

// Inside the initramfs: the init program, the modules it loads and their order.
inline constexpr const char* kInitramfsInit = "init";
inline constexpr const char* kInitramfsModules = "modules";
inline constexpr const char* kInitramfsLoadOrder = "modules/load-order";

// The virtiofs tag of the VM's root filesystem: QEMU's device carries it, our initramfs mounts it
// (runcvm.root=), and a bundle kernel without an initramfs is told it as root=.
inline constexpr const char* kRootTag = "runcvm-root";

// Kernel command line keys the initramfs init reads: runcvm.root=<tag> runcvm.init=<path> [runcvm.debug].
inline constexpr std::string_view kCmdlineRootTag = "runcvm.root=";  // virtiofs tag of the root filesystem
inline constexpr std::string_view kCmdlineInit = "runcvm.init=";     // program to exec after switching root
inline constexpr std::string_view kCmdlineDebug = "runcvm.debug";    // log each step of the initramfs
// A template VM (container/runcvm-init/vm_template.hpp): the initramfs, once its modules are
// loaded, says kTemplateParked on the channel port and waits, without a deadline, for the root's
// device, which each restored copy of the VM is given.
inline constexpr std::string_view kCmdlineTemplate = "runcvm.template";
inline constexpr std::string_view kTemplateParked = "runcvm-template-parked\n";

// What every VM's kernel is told besides: a VM needs neither the PS/2 mouse and multiplexer probes
// nor the crypto self-tests, and QEMU's TSC and timer need no checking (about 250 ms of the
// kernel's boot under TCG). ci/boot-kernel.sh reads this line, so that its bare-QEMU boot stays
// the floor of what runcvm does: keep it one line.
// clang-format off
inline constexpr const char* kFastBootArguments = "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd cryptomgr.notests no_timer_check tsc=reliable";
// clang-format on

// The directory of one kernel below a bundle's root (the host's bundle path, or the container's
// mount of it).
inline std::string kernel_directory(std::string_view bundle_root, std::string_view dist, std::string_view version) {
  return std::string(bundle_root) + "/" + kKernelsDirectory + "/" + std::string(dist) + "/" + std::string(version);
}

}  // namespace runcvm::handoff::kernel_artifact
