// Reaping for the programs that wait on children through a signalfd (the VM's PID 1, the exec agent).
#pragma once

#include <sys/types.h>

#include <vector>

namespace runcvm {

struct ExitedChild {
  pid_t pid;
  int wait_status;
};

// Empties the signalfd (SIGCHLD coalesces, so one signal may stand for many children) and
// collects every child that has exited.
std::vector<ExitedChild> reap_children(int signal_fd);

}  // namespace runcvm
