// Template VMs: a bundle kernel booted once to the point where nothing of a container has
// happened yet (its initramfs parked, waiting for its root), saved with QEMU's migration stream,
// and restored by each later container's runcvm-init instead of booting (vm_template.hpp of
// runcvm-init says how). The runtime keeps the templates in a root-only host directory on /run
// (emptied at every boot) and binds it into each container below the state directory, where
// neither the VM nor QEMU and virtiofsd (whose root holds the state directory without its
// submounts) can reach it; runcvm-init reads, builds and replaces them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "handoff/state_directory.hpp"

namespace runcvm::handoff {

inline constexpr const char* kTemplateHostDirectory = "/run/runcvm/templates";
// A manifest is a couple of KiB (the key holds QEMU's command line); anything longer is not one of ours.
inline constexpr std::size_t kTemplateManifestMaxBytes = 16384;
// The empty slots a template keeps for the container's own devices: a container with more cards
// or disks than these boots cold.
inline constexpr std::size_t kTemplateNicSlots = 4;
inline constexpr std::size_t kTemplateDiskSlots = 2;

// Everything the saved machine depends on: this boot of the host, the bundle's QEMU, firmware,
// kernel and initramfs (as "device:inode:size:mtime_ns", so a new bundle or kernel is a new
// template), QEMU's whole command line for the template (machine, accelerator, CPU model, vCPUs,
// memory, devices, kernel command line) and, under KVM, the host's CPU.
struct TemplateKey {
  std::string boot_id;
  std::string qemu;
  std::string firmware;
  std::string kernel;
  std::string initrd;
  std::string command;
  std::string host_cpu;  // "" under TCG
  bool operator==(const TemplateKey&) const = default;
};

// A template's manifest, beside its saved state (QEMU's migration stream, without the RAM) and
// RAM (a sparse file of the guest's pages that are not zero): the key it was built for, and the
// size and CRC-32 of each, checked at each restore (a damaged or truncated one is rebuilt, never
// run). The RAM's CRC-32 covers each page that is not zero with its offset, so it does not depend
// on where a filesystem keeps holes.
struct TemplateManifest {
  TemplateKey key;
  std::uint64_t state_bytes = 0;
  std::uint32_t state_crc32 = 0;
  std::uint64_t ram_bytes = 0;
  std::uint32_t ram_crc32 = 0;
  std::int64_t built_at = 0;  // Unix seconds
};

// The directory, in the template directory, of the template for `key`: a name of hex digits.
std::string template_directory_name(const TemplateKey& key);
std::string to_json_text(const TemplateManifest& manifest);
// Parses a manifest strictly; nullopt for anything that is not a whole, well-formed manifest of
// at most kTemplateManifestMaxBytes.
std::optional<TemplateManifest> parse_template_manifest(std::string_view text);

struct Launch;
// Why this VM boots cold instead of from a template, in a few words for the runtime's log;
// nullopt when a template applies. What the saved machine cannot carry boots cold: an image's own
// kernel (it gets an initramfs built from its modules at every start), a kernel without runcvm's
// initramfs (it mounts its root while it boots), other machines than q35 (no hot-plug slots for
// the container's devices, or untried), a kernel command line or firmware output of the
// container's own, huge pages, a display or USB controller, and more disks than the template has
// slots for.
std::optional<std::string> template_refusal(const Launch& launch);

}  // namespace runcvm::handoff
