// Whether this host's /dev/kvm boots the VM, remembered until the host restarts. Some hosts offer
// /dev/kvm but cannot run a stock kernel on it (nested or paravirtualised hosts): the first
// container that finds so records a verdict, and later ones start straight under TCG instead of
// paying the attempt again. The runtime keeps the verdicts in a root-only host directory on /run
// (emptied at every boot) and binds it into each container that may use KVM, below the state
// directory, where neither the VM nor QEMU and virtiofsd (whose root holds the state directory
// without its submounts) can reach it; runcvm-init reads and writes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "handoff/state_directory.hpp"

namespace runcvm::handoff {

inline constexpr const char* kKvmVerdictHostDirectory = "/run/runcvm/kvm";
// A verdict file is a few hundred bytes; anything longer is not one of ours.
inline constexpr std::size_t kKvmVerdictMaxBytes = 4096;

// What a verdict holds for: this boot of the host, this KVM device, this QEMU and this kernel.
// A new boot, another bundle (its QEMU or kernels are new files) or another kernel asks again.
struct KvmVerdictKey {
  std::string boot_id;  // /proc/sys/kernel/random/boot_id
  std::string device;   // /dev/kvm as "major:minor"
  std::string qemu;     // the bundle's QEMU as "device:inode:size:mtime_ns"
  std::string kernel;   // the booted kernel file, likewise
  bool operator==(const KvmVerdictKey&) const = default;
};

// KVM did not boot the VM under `key`: `reason` says how, `recorded_at` when (Unix seconds).
struct KvmFailure {
  KvmVerdictKey key;
  std::string reason;
  std::int64_t recorded_at = 0;
};

// The file, in the verdict directory, that holds the verdict for `key`: a name of hex digits.
std::string kvm_verdict_file_name(const KvmVerdictKey& key);
std::string to_json_text(const KvmFailure& failure);
// Parses a verdict file strictly; nullopt for anything that is not a whole, well-formed verdict
// of at most kKvmVerdictMaxBytes (a stale or damaged file means only that KVM is tried again).
std::optional<KvmFailure> parse_kvm_failure(std::string_view text);

struct Launch;
// Whether a failed KVM boot of this VM may become a verdict for every later container: only when
// the VM is runcvm's own — default machine, CPU model, devices, firmware output, memory backing
// and kernel command line. Every one of those the image's ENV may set (RUNCVM_QEMU_*,
// RUNCVM_KERNEL_APPEND, RUNCVM_HUGETLB, RUNCVM_DISPLAY_MODE), and an image must not be able to
// make a KVM boot fail on purpose and send every later container on the host to TCG.
bool kvm_verdict_applies(const Launch& launch);

}  // namespace runcvm::handoff
