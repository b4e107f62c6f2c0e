// A bundle kernel's manifest, kernel.json (kernel_artifact.hpp's layout): what runcvm-build made
// the kernel from and how it boots. runcvm-build writes it, and reads it back to reuse an artifact
// made from the same inputs; the runtime reads whether the kernel mounts its root without an
// initramfs. Read as strictly as the launch document: a manifest of another format version, an
// unknown field or a wrong type is an error naming the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::handoff {

inline constexpr int kKernelManifestVersion = 1;

struct KernelPackage {
  std::string name;
  std::string version;
  std::string checksum;  // sha256 of the .deb/.apk, as the signed index names it
};

struct KernelManifest {
  std::string dist;
  std::string version;  // the kernel's release, uname -r
  std::string recipe;
  std::string inputs;                          // the build-inputs key (build_inputs.hpp)
  std::vector<std::string> initramfs_modules;  // in load order
  std::vector<KernelPackage> packages;
  // Everything to mount the virtiofs root is built in: the runtime boots it without the initramfs.
  bool root_without_initramfs = false;
  std::optional<std::string> toolchain;  // the compiler, for a kernel compiled from source
};

// Pretty-printed (two spaces), a newline at the end: people and tests read it.
std::string to_json_text(const KernelManifest& manifest);
KernelManifest parse_kernel_manifest(std::string_view json_text);

}  // namespace runcvm::handoff
