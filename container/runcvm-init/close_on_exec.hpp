// Which of runcvm-init's descriptors a helper inherits: the sweep a child runs between fork and
// exec. runcvm-init has threads (the DNS forwarder), so the child may make system calls only: no
// allocation, hence no walk of /proc/self/fd through opendir.
#pragma once

#include <span>

namespace runcvm::container_init {

// Sets close-on-exec on every descriptor from `first` on except those of `keep` (sorted), and
// clears it on those of `keep` from `first` on, which the helper is to inherit (QEMU's taps).
// close_range(CLOSE_RANGE_CLOEXEC) does a range in one call, but only from Linux 5.11 (before:
// ENOSYS or EINVAL; a seccomp profile that predates it: EPERM); where it fails, each descriptor
// below the RLIMIT_NOFILE soft limit is marked with fcntl — none is open above it, since
// runcvm-init never lowers that limit. Returns 0, or the errno of the step that failed (EBADF: a
// kept descriptor is not open), after which the caller must not exec: a descriptor may be left
// open. Async-signal-safe.
int mark_close_on_exec_except(int first, std::span<const int> keep);

}  // namespace runcvm::container_init
