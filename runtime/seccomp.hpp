// The container's seccomp filter under runcvm. Docker resolves its default profile for the
// capabilities the operator gave; runcvm-init then needs a few calls that profile keeps for
// CAP_SYS_ADMIN (mount, to build the helpers' root) or denies outright (unshare, which virtiofsd
// calls for CLONE_FS in its worker threads). This adds exactly those, and nothing that opens a new
// namespace: user namespaces in particular stay denied, as Docker denies them.
#pragma once

#include <nlohmann/json.hpp>

namespace runcvm::runtime {

// `seccomp`: the spec's linux.seccomp object (SCMP_ACT_ERRNO by default, as Docker writes it).
// Left alone when its default action already allows everything.
void allow_helper_syscalls(nlohmann::json& seccomp);

}  // namespace runcvm::runtime
