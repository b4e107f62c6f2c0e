#include "container/runcvm-init/clock_watch.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "common/error.hpp"
#include "container/runcvm-init/notice.hpp"

namespace runcvm::container_init {

ClockWatch::ClockWatch() : clock_set_(::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!clock_set_) throw system_error("creating", "the clock watch's timer", errno);
  arm_clock_set_alarm();
}

void ClockWatch::arm_clock_set_alarm() {
  // An absolute alarm far away, armed to be cancelled when the clock is set: the kernel's only
  // notice of a clock step.
  itimerspec never{{0, 0}, {static_cast<time_t>(1) << 40, 0}};
  if (::timerfd_settime(clock_set_.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &never, nullptr) != 0)
    throw system_error("arming", "the clock watch's clock-set alarm", errno);
}

void ClockWatch::add_poll_fds(std::vector<pollfd>& fds) const { fds.push_back({clock_set_.get(), POLLIN, 0}); }

bool ClockWatch::handle(const pollfd& p, bool* due) {
  if (p.fd != clock_set_.get()) return false;
  if (!p.revents) return true;
  std::uint64_t expirations = 0;
  if (::read(p.fd, &expirations, sizeof expirations) < 0 && errno == ECANCELED) {
    // Armed again so that the next set is seen too; should that fail, the guest's periodic checks
    // still bring its clock along, so it is a notice, not the end of runcvm-init.
    try {
      arm_clock_set_alarm();
    } catch (const Error& e) {
      notice(std::string(e.what()) + ": a step of the host's clock reaches the VM within a minute only");
    }
    *due = true;
  }
  return true;
}

}  // namespace runcvm::container_init
