// When the guest measures its clock against the host's (channel/clock_sync.hpp): every
// kClockCheckTicks seconds, which keeps a drifting guest clock within the slew's reach; at once
// when the container was frozen (`docker pause` stops runcvm-init with QEMU, and the guest's clock
// falls behind by the pause) or the host slept, seen as a tick that came seconds late; and
// whenever the host's own clock is set (a step the guest must follow).
#pragma once

#include <poll.h>

#include <cstdint>
#include <vector>

#include "common/fd.hpp"

namespace runcvm::container_init {

inline constexpr std::uint64_t kClockCheckTicks = 10;

// Whether a check is due when `expirations` one-second ticks were read at once, `since_check`
// ticks (those included) after the last check.
bool clock_check_due(std::uint64_t expirations, std::uint64_t since_check);

class ClockWatch {
 public:
  ClockWatch();

  void add_poll_fds(std::vector<pollfd>& fds) const;
  // Handles p if it is one of ours (returns whether it was); sets *due when the guest should measure.
  bool handle(const pollfd& p, bool* due);

 private:
  void arm_clock_set_alarm();

  UniqueFd tick_;       // CLOCK_BOOTTIME (it counts a host's sleep, CLOCK_MONOTONIC does not), every second
  UniqueFd clock_set_;  // CLOCK_REALTIME, never expires; its read fails with ECANCELED once the clock is set
  std::uint64_t since_check_ = 0;
};

}  // namespace runcvm::container_init
