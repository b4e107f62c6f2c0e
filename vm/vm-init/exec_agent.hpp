// The exec agent: a child of the VM's PID 1 that owns the exec port and runs `docker exec`
// sessions, each with its own identity, cwd, env and stdio (pipes, or a pty for -t), many at once.
#pragma once

namespace runcvm::vm_init {

// Opens the exec port, says `ready` on it and serves sessions until the port closes. Runs in a
// process of its own (forked by PID 1 once the VM is set up); never returns.
[[noreturn]] void run_exec_agent();

}  // namespace runcvm::vm_init
