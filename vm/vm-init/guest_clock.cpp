#include "vm/vm-init/guest_clock.hpp"

#include <sys/timex.h>

#include <algorithm>
#include <cerrno>

#include "channel/session.hpp"
#include "common/error.hpp"

namespace runcvm::vm_init {

std::string ClockMeasurement::probe(std::int64_t now_ns) {
  sent_ns_ = now_ns;
  return channel::encode_session(channel::FrameType::clock_probe, channel::kControlSession,
                                 channel::clock_probe_payload(++probe_number_));
}

std::string ClockMeasurement::start(std::int64_t now_ns, int probes) {
  if (running_) return {};
  running_ = true;
  probes_ = static_cast<std::size_t>(std::clamp(probes, 1, channel::kClockProbes));
  started_ns_ = now_ns;
  samples_.clear();
  return probe(now_ns);
}

std::string ClockMeasurement::on_reading(std::string_view payload, std::int64_t now_ns,
                                         std::optional<channel::ClockCorrection>* done) {
  done->reset();
  auto reading = channel::parse_clock_reading(payload);
  if (!running_ || !reading || reading->probe != probe_number_) return {};  // late, repeated or forged
  samples_.push_back(channel::clock_sample(sent_ns_, now_ns, reading->host_ns));
  if (samples_.size() < probes_) return probe(now_ns);
  running_ = false;
  ++ended_;
  *done = channel::clock_correction(samples_);
  return {};
}

int ClockMeasurement::timeout_ms(std::int64_t now_ns) const {
  if (!running_) return -1;
  std::int64_t left = started_ns_ + kGiveUpAfterNs - now_ns;
  return static_cast<int>(std::clamp<std::int64_t>(left / 1'000'000 + 1, 0, kGiveUpAfterNs / 1'000'000 + 1));
}

void ClockMeasurement::give_up_if_late(std::int64_t now_ns) {
  // A clock stepped backwards by someone else also ends it: it would otherwise wait for ever.
  if (running_ && (now_ns - started_ns_ >= kGiveUpAfterNs || now_ns < started_ns_)) {
    running_ = false;
    ++ended_;
  }
}

bool PeriodicClockCheck::due(std::int64_t now_ns) {
  if (now_ns < next_ns_) return false;
  next_ns_ = now_ns + channel::kClockCheckIntervalNs;
  return true;
}

int PeriodicClockCheck::timeout_ms(std::int64_t now_ns) const {
  // Rounded up: poll waking a little early would only go round once more.
  std::int64_t left = next_ns_ - now_ns;
  return static_cast<int>(
      std::clamp<std::int64_t>((left + 999'999) / 1'000'000, 0, channel::kClockCheckIntervalNs / 1'000'000));
}

void apply_clock_correction(const channel::ClockCorrection& correction) {
  if (correction.action == channel::ClockAction::keep) return;
  timex change{};
  if (correction.action == channel::ClockAction::step) {
    // ADJ_SETOFFSET adds to the clock in one go (no read-modify-write race); its nanoseconds
    // field must be in [0, 1e9), so a negative offset borrows a second.
    std::int64_t seconds = correction.offset_ns / 1'000'000'000;
    std::int64_t nanoseconds = correction.offset_ns % 1'000'000'000;
    if (nanoseconds < 0) {
      nanoseconds += 1'000'000'000;
      seconds -= 1;
    }
    change.modes = ADJ_SETOFFSET | ADJ_NANO;
    change.time.tv_sec = seconds;
    change.time.tv_usec = nanoseconds;
    if (::adjtimex(&change) < 0) throw system_error("stepping", "the clock", errno);
  }
  // A slew replaces whatever was left of the last one; a step cancels it.
  timex slew{};
  slew.modes = ADJ_OFFSET_SINGLESHOT;
  slew.offset = correction.action == channel::ClockAction::slew ? correction.offset_ns / 1000 : 0;
  if (::adjtimex(&slew) < 0) throw system_error("slewing", "the clock", errno);
  // Synchronised, within a millisecond: what `timedatectl` and ntp_gettime report. The kernel
  // marks it unsynchronised again by itself should the corrections stop.
  timex status{};
  status.modes = ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR;
  status.status = 0;
  status.maxerror = 1000;
  status.esterror = 1000;
  if (::adjtimex(&status) < 0) throw system_error("marking", "the clock synchronised", errno);
}

}  // namespace runcvm::vm_init
