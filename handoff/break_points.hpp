// RUNCVM_BREAK's points (Launch::breakpoints): the runtime checks the option against them, the VM
// stops at them.
#pragma once

namespace runcvm::handoff {

// The break points, in the order the VM passes them: before its network is configured, after,
// and just before the workload starts.
inline constexpr const char* kBreakPoints[] = {"prenet", "postnet", "preworkload"};

}  // namespace runcvm::handoff
