// The kernel artifact contract, shared by the builder that writes it and the runtime that reads
// it:  <out>/kernels/<dist>/<version>/{vmlinuz, [vmlinux,] initrd, config, modules/, kernel.json}
//      <out>/kernels/<dist>/latest -> <version>
#pragma once

namespace runcvm::kernels::artifact {

inline constexpr const char* kKernelsDirectory = "kernels";
inline constexpr const char* kKernelImage = "vmlinuz";
// The uncompressed kernel, present when it can be booted directly through its PVH entry point
// (direct_boot.hpp); runcvm-init prefers it to vmlinuz.
inline constexpr const char* kDirectBootImage = "vmlinux";
inline constexpr const char* kInitramfs = "initrd";
inline constexpr const char* kConfig = "config";
inline constexpr const char* kModules = "modules";  // the lib/modules/<version> tree, with kmod indexes
inline constexpr const char* kManifest = "kernel.json";
inline constexpr const char* kLatest = "latest";

// Inside the initramfs: the init program, the modules it loads and their order.
inline constexpr const char* kInitramfsInit = "init";
inline constexpr const char* kInitramfsModules = "modules";
inline constexpr const char* kInitramfsLoadOrder = "modules/load-order";

// Kernel command line keys the initramfs init reads.
inline constexpr const char* kCmdlineRootTag = "runcvm.root";  // virtiofs tag of the root filesystem
inline constexpr const char* kCmdlineInit = "runcvm.init";     // program to exec after switching root
inline constexpr const char* kCmdlineDebug = "runcvm.debug";   // log each step of the initramfs

}  // namespace runcvm::kernels::artifact
