// runcvm-init's side of the KVM verdicts (handoff/kvm_verdict.hpp): the key of this VM, the
// failure remembered for it, and recording a new one. Everything here is best effort: a verdict
// that cannot be read or written only means that KVM is tried (again).
#pragma once

#include <optional>
#include <string>

#include "handoff/kvm_verdict.hpp"

namespace runcvm::container_init {

// The key for booting `kernel_file` with `qemu_file` on this host's /dev/kvm; nullopt when the
// runtime bound no verdict directory into the container or a part cannot be read.
std::optional<handoff::KvmVerdictKey> kvm_verdict_key(const std::string& qemu_file, const std::string& kernel_file);
std::optional<handoff::KvmFailure> remembered_kvm_failure(const handoff::KvmVerdictKey& key);
void remember_kvm_failure(const handoff::KvmVerdictKey& key, const std::string& reason);

}  // namespace runcvm::container_init
