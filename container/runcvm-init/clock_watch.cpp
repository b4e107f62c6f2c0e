#include "container/runcvm-init/clock_watch.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"
#include "container/runcvm-init/notice.hpp"

namespace runcvm::container_init {

bool clock_check_due(std::uint64_t expirations, std::uint64_t since_check) {
  // Two ticks at once: this loop did not run for over a second (frozen, suspended, or a host too
  // busy to run it, where one more check costs nothing).
  return expirations >= 2 || since_check >= kClockCheckTicks;
}

ClockWatch::ClockWatch()
    : tick_(::timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC)),
      clock_set_(::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!tick_ || !clock_set_) throw system_error("creating", "the clock watch's timers", errno);
  itimerspec every_second{{1, 0}, {1, 0}};
  if (::timerfd_settime(tick_.get(), 0, &every_second, nullptr) != 0)
    throw system_error("arming", "the clock watch's tick", errno);
  arm_clock_set_alarm();
}

void ClockWatch::arm_clock_set_alarm() {
  // An absolute alarm far away, armed to be cancelled when the clock is set: the kernel's only
  // notice of a clock step.
  itimerspec never{{0, 0}, {static_cast<time_t>(1) << 40, 0}};
  if (::timerfd_settime(clock_set_.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &never, nullptr) != 0)
    throw system_error("arming", "the clock watch's clock-set alarm", errno);
}

void ClockWatch::add_poll_fds(std::vector<pollfd>& fds) const {
  fds.push_back({tick_.get(), POLLIN, 0});
  fds.push_back({clock_set_.get(), POLLIN, 0});
}

bool ClockWatch::handle(const pollfd& p, bool* due) {
  if (p.fd != tick_.get() && p.fd != clock_set_.get()) return false;
  if (!p.revents) return true;
  std::uint64_t expirations = 0;
  ssize_t n = ::read(p.fd, &expirations, sizeof expirations);
  if (p.fd == clock_set_.get()) {
    if (n < 0 && errno == ECANCELED) {
      // Armed again so that the next set is seen too; should that fail, the periodic checks
      // still bring the guest's clock along, so it is a notice, not the end of runcvm-init.
      try {
        arm_clock_set_alarm();
      } catch (const Error& e) {
        notice(std::string(e.what()) + ": a step of the host's clock reaches the VM within 10 s only");
      }
      since_check_ = 0;
      *due = true;
    }
    return true;
  }
  if (n != sizeof expirations) return true;
  since_check_ += expirations;
  if (clock_check_due(expirations, since_check_)) {
    since_check_ = 0;
    *due = true;
  }
  return true;
}

}  // namespace runcvm::container_init
