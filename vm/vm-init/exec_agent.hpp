// The exec agent: a child of the VM's PID 1 that owns the exec port and runs `docker exec`
// sessions, each with its own identity, cwd, env and stdio (pipes, or a pty for -t), many at once.
#pragma once

#include "common/fd.hpp"

namespace runcvm::vm_init {

// Opens the exec port, says `ready` on it and serves sessions until the port closes. Runs in a
// process of its own (forked by PID 1 once the VM is set up); never returns. It sets the VM's
// clock from the host's at once and closes `clock_set` when that is done (or given up), and keeps
// it following the host's clock whenever runcvm-init asks.
[[noreturn]] void run_exec_agent(UniqueFd clock_set);

}  // namespace runcvm::vm_init
