// The exec agent: a child of the VM's PID 1 that owns the exec port and runs `docker exec`
// sessions, each with its own identity, cwd, env and stdio (pipes, or a pty for -t), many at once.
#pragma once

#include "common/fd.hpp"

namespace runcvm::vm_init {

// Serves sessions on the exec port (`port`, or found by its name when not open) until it closes. Runs in a process of
// its own, forked by PID 1 while it sets the VM up; never returns. It sets the VM's clock from the host's at once and
// closes `clock_set` when that is done (or given up), and keeps it following the host's clock whenever runcvm-init
// asks. It says `ready` (sessions may come) only once PID 1 has closed its end of `setup_done`: a `docker exec` never
// sees a VM half set up.
[[noreturn]] void run_exec_agent(UniqueFd port, UniqueFd clock_set, UniqueFd setup_done);

}  // namespace runcvm::vm_init
