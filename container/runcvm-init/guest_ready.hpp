// The wait, while the VM boots, for the guest's first frame on the channel: it says the guest's
// init runs and, since the workload starts only after it, that nothing of the workload has run.
// Until then a VM that fails can be started again without the workload running twice.
#pragma once

#include <sys/types.h>

#include <chrono>

#include "common/fd.hpp"

namespace runcvm::container_init {

enum class ReadyWait {
  spoke,        // the guest's first frame is on the channel (left unread, for the supervisor)
  qemu_exited,  // QEMU ended first (not reaped: the status is left for whoever reaps it)
  timed_out,
  interrupted,  // virtiofsd ended: the supervisor ends the VM
};

struct ReadyOutcome {
  ReadyWait how = ReadyWait::timed_out;
  bool qemu_crashed = false;  // QEMU ended by a signal of its own fault (SIGSEGV, SIGBUS, ...)
  int qemu_signal = 0;
};

// `channel` is runcvm-init's end of the channel, `qemu` and `virtiofsd` the helpers' pids.
ReadyOutcome wait_for_guest_ready(int channel, pid_t qemu, pid_t virtiofsd, std::chrono::milliseconds limit);

// QEMU's connection to `listener` (listening at `path`: QEMU connects its chardev sockets one after
// the other as it starts), within `limit`. A QEMU that ends first (a command line it refuses, a
// crash) is not waited for: throws at once, leaving it unreaped for whoever reaps it.
UniqueFd accept_from_qemu(int listener, const char* path, pid_t qemu,
                          std::chrono::milliseconds limit = std::chrono::seconds(10));

// Whether a child killed by `signal` ended by its own fault rather than by another's kill.
bool is_crash_signal(int signal);

}  // namespace runcvm::container_init
