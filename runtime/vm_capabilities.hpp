// The workload's capabilities in the VM. Under runc a container's root holds the engine's small
// default set, because its kernel is the host's. In a VM the kernel is the workload's own: root
// there holding every capability reaches nothing of the host (the container's own set, which the
// helpers use, is fixed apart: container_capabilities.hpp). So, as RunCVM does, the workload gets
// every capability unless the operator narrowed the set or asked for the spec's as it is:
//
// - "narrowed": the spec's bounding set lacks a capability of the engines' default set (Docker's,
//   which Podman 4 and containerd's CRI give too): `--cap-drop NET_RAW`, `--cap-drop ALL`, a pod's
//   `drop`. The workload then gets exactly the spec's sets, as under runc.
// - otherwise (the default set, with or without --cap-add), each of the bounding, effective and
//   permitted sets that holds the default set becomes every capability; a set that does not (a
//   non-root user's empty effective set) stays as it is, as do inheritable and ambient.
// - RUNCVM_CAPS=spec: the spec's sets as they are, always.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "handoff/launch.hpp"

namespace runcvm::runtime {

enum class VmCapabilities { automatic, spec };

// Docker's default capability set (moby's oci/caps/defaults.go).
const std::vector<std::string>& engine_default_capabilities();
// Every capability the guest kernels know, CAP_CHOWN to CAP_CHECKPOINT_RESTORE.
std::vector<std::string> every_capability();

// The workload's sets in the VM, from the spec's (`spec_sets`; nullopt: the spec lists none).
std::optional<handoff::Capabilities> vm_capabilities(const std::optional<handoff::Capabilities>& spec_sets,
                                                     VmCapabilities rule);
// The same, under the rule RUNCVM_CAPS names (Options::capabilities: "auto" or "spec").
std::optional<handoff::Capabilities> vm_capabilities(const std::optional<handoff::Capabilities>& spec_sets,
                                                     std::string_view caps_option);

}  // namespace runcvm::runtime
