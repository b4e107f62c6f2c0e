// Reaping for the programs that wait on children through a signalfd (the VM's PID 1, the exec agent),
// and telling how a child ended.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace runcvm {

struct ExitedChild {
  pid_t pid;
  int wait_status;
};

// Empties the signalfd (SIGCHLD coalesces, so one signal may stand for many children) and
// collects every child that has exited.
std::vector<ExitedChild> reap_children(int signal_fd);

// How `child` ended, if it has, without reaping it: it stays a zombie for the waiter that owns it.
// Never for a pid of 0 or less (waitid's "any child").
std::optional<siginfo_t> peek_exit(pid_t child);

// "signal 9 (Killed)": a signal as an operator reads it in a message.
std::string describe_signal(int signal);

// "exited with status 2", "was killed by signal 9 (Killed)": a wait status, after a program's name.
std::string describe_wait_status(int wait_status);

}  // namespace runcvm
