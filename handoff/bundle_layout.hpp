// The bundle layout, one home for every side of it: `runcvm-build bundle` writes the tree, the
// installer copies it onto the host, the runtime checks it and mounts it read-only in every
// container, and runcvm-init, its helpers and the VM run from it. Every path of it is spelled here
// and nowhere else (tests/unit/contracts_test.cpp checks the C++ tree and the Dockerfile;
// ci/main.sh reads this file):
//   bin/         our static programs and busybox: they run in any image
//   libexec/     QEMU and virtiofsd, started through the bundle's own loader
//   lib/         their shared-library closure and that loader; lib/qemu/ QEMU's modules
//   share/qemu/  the firmware QEMU boots with
//   kernels/     kernel_artifact.hpp
//   VERSION      a digest of the rest, under which the installer keeps each version on the host
#pragma once

#include <string>
#include <string_view>

namespace runcvm::handoff {

// Where the bundle is in every container, and in the bundle image; the installer's default
// place for it on the host too.
inline constexpr const char* kBundleMountPoint = "/opt/runcvm";
// Its parent: the image may have it only as a plain directory, as the mount point itself.
inline constexpr const char* kBundleMountParent = "/opt";

// The directories, relative to the bundle's root: only ever joined to a root or a name.
inline constexpr std::string_view kBundleProgramDirectory = "bin";
inline constexpr std::string_view kBundleHelperDirectory = "libexec";
inline constexpr std::string_view kBundleLibraryDirectory = "lib";
inline constexpr std::string_view kBundleQemuModuleDirectory = "lib/qemu";
inline constexpr std::string_view kBundleFirmwareDirectory = "share/qemu";

// QEMU and virtiofsd, and the loader they start through.
inline constexpr const char* kBundleLoader = "lib/ld-linux-x86-64.so.2";
inline constexpr const char* kBundleQemu = "libexec/qemu-system-x86_64";
inline constexpr const char* kBundleVirtiofsd = "libexec/virtiofsd";
// The builder writes it last; an earlier bundle is known by it.
inline constexpr const char* kBundleVersionFile = "VERSION";

// Our programs, relative to the bundle's root.
inline constexpr const char* kBundleRuntime = "bin/runcvm-runtime";
inline constexpr const char* kBundleContainerInit = "bin/runcvm-init";
inline constexpr const char* kBundleVmInit = "bin/runcvm-vm-init";
// The VM kernel's module helper (/proc/sys/kernel/modprobe in the VM).
inline constexpr const char* kBundleModprobe = "bin/runcvm-modprobe";
// What runc executes for `docker exec`, through the state directory's bind of bin/
// (state_directory.hpp says why not from here).
inline constexpr const char* kBundleExecClient = "bin/runcvm-exec";
// The bundle image's entrypoint.
inline constexpr const char* kBundleInstaller = "bin/runcvm-install";
// The bundle kernels' initramfs init, which runcvm-init also packs with an image kernel's own
// modules into the initramfs that kernel boots with (container/runcvm-init/image_initramfs.hpp).
inline constexpr const char* kBundleInitramfsInit = "bin/runcvm-initramfs-init";
// RUNCVM_BREAK's shell in the VM: a static busybox, not one of ours.
inline constexpr const char* kBundleShell = "bin/busybox";

// Ours, all static (they run in any image): the builder installs each under its file name.
inline constexpr const char* kBundlePrograms[] = {kBundleRuntime,      kBundleContainerInit, kBundleVmInit,
                                                  kBundleModprobe,     kBundleExecClient,    kBundleInstaller,
                                                  kBundleInitramfsInit};
// The files every container runs: the runtime checks them at create (a bundle half removed fails
// there, in one line), runcvm-init starts them.
inline constexpr const char* kBundleRequiredFiles[] = {kBundleContainerInit, kBundleVmInit, kBundleModprobe,
                                                       kBundleLoader,        kBundleQemu,   kBundleVirtiofsd};

// The bundle's paths below one root: the container's mount point unless told another (where the
// builder assembles it, where the installer or the host has it).
struct BundleLayout {
  std::string root = kBundleMountPoint;
  std::string path(std::string_view relative) const { return root + "/" + std::string(relative); }
  std::string programs() const { return path(kBundleProgramDirectory); }
  std::string libraries() const { return path(kBundleLibraryDirectory); }
  std::string loader() const { return path(kBundleLoader); }
  std::string qemu() const { return path(kBundleQemu); }
  std::string virtiofsd() const { return path(kBundleVirtiofsd); }
  std::string qemu_modules() const { return path(kBundleQemuModuleDirectory); }
  std::string firmware() const { return path(kBundleFirmwareDirectory); }
  std::string vm_init() const { return path(kBundleVmInit); }
};

}  // namespace runcvm::handoff
