// When runcvm-init asks the guest to measure its clock against the host's
// (channel/clock_sync.hpp): whenever the host's own clock is set, a step the guest must follow.
// Nothing else: the guest checks once a minute of its own accord, and a `docker pause` leaves its
// clock right (its TSC counts on while QEMU is frozen). An idle container's side sleeps.
#pragma once

#include <poll.h>

#include <vector>

#include "common/fd.hpp"

namespace runcvm::container_init {

class ClockWatch {
 public:
  ClockWatch();

  void add_poll_fds(std::vector<pollfd>& fds) const;
  // Handles p if it is one of ours (returns whether it was); sets *due when the guest should measure.
  bool handle(const pollfd& p, bool* due);

 private:
  void arm_clock_set_alarm();

  UniqueFd clock_set_;  // CLOCK_REALTIME, never expires; its read fails with ECANCELED once the clock is set
};

}  // namespace runcvm::container_init
