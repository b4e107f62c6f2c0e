#include "container/runcvm-init/close_on_exec.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace runcvm::container_init {
namespace {

constexpr unsigned kCloseRangeCloexec = 4;  // CLOSE_RANGE_CLOEXEC (linux/close_range.h, Linux 5.11)

// The descriptors [low, high) one by one; EBADF only means that one is not open.
int mark_each(int low, int high) {
  for (int fd = low; fd < high; ++fd)
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 && errno != EBADF) return errno;
  return 0;
}

// The descriptors [low, last], `last` INT_MAX meaning all from `low` on.
int mark_range(int low, int last, int open_limit) {
  if (low > last) return 0;
  unsigned range_end = last == INT_MAX ? UINT_MAX : static_cast<unsigned>(last);
  if (::syscall(SYS_close_range, static_cast<unsigned>(low), range_end, kCloseRangeCloexec) == 0) return 0;
  // Whatever close_range's reason, the loop below does the same work; a failure of its own fails.
  return mark_each(low, last == INT_MAX ? open_limit : std::min(last + 1, open_limit));
}

}  // namespace

int mark_close_on_exec_except(int first, std::span<const int> keep) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return errno;
  int open_limit = static_cast<int>(std::min<rlim_t>(limit.rlim_cur, INT_MAX));
  int low = first;
  for (int fd : keep) {
    if (fd < low) continue;
    if (int error = mark_range(low, fd - 1, open_limit)) return error;
    if (::fcntl(fd, F_SETFD, 0) != 0) return errno;
    low = fd + 1;
  }
  return mark_range(low, INT_MAX, open_limit);
}

}  // namespace runcvm::container_init
