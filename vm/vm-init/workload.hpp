// The workload inside the VM: started with the container's identity, cwd and env, with its
// stdio on pipes (or on a pty for -t) that the relay carries to the host.
#pragma once

#include <sys/types.h>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "handoff/launch.hpp"

namespace runcvm::vm_init {

struct Workload {
  pid_t pid = -1;
  UniqueFd stdin_write;  // pipes; with a terminal, stdin_write is the pty master and the others unset
  UniqueFd stdout_read;
  UniqueFd stderr_read;
  bool terminal = false;
};

// Throws runcvm::Error with a one-line reason when it cannot start (no such command, …); its
// error_number() is the errno of the call that failed, when one did.
Workload start_workload(const handoff::Process& process);

// The cgroup (a directory of the VM's cgroup filesystem) every workload process joins from now on,
// in a cgroup namespace of its own so that it sees itself at the root, as under runc.
void set_workload_cgroup(const std::string& directory);

// The exit code a workload that could not start reports, as Docker reports it under runc: 126
// when the program exists but may not be executed (EACCES), 127 for everything else.
int start_failure_exit_code(const Error& failure);

// Replaces this process (the VM's PID 1) with an init workload, its stdio on the VM's console.
// Returns only if that fails, with the reason.
std::string exec_as_init(const handoff::Process& process);

// The exit code a shell reports for a wait status: the code, or 128 + the signal.
int exit_code_of(int wait_status);

}  // namespace runcvm::vm_init
