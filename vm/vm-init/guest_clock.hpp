// The exec agent's side of the clock protocol (channel/clock_sync.hpp): one measurement at a time,
// probe after probe, driven by the agent's poll loop and never blocking it. The times are passed
// in, so the state machine is tested without a clock; apply_clock_correction is the system call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "channel/clock_sync.hpp"

namespace runcvm::vm_init {

class ClockMeasurement {
 public:
  // A measurement that gets no answer within this is given up (a host that does not answer).
  static constexpr std::int64_t kGiveUpAfterNs = 1'000'000'000;

  bool running() const { return running_; }
  // How many measurements ended (answered or given up): the first one gates the workload's start.
  unsigned ended() const { return ended_; }
  // Starts one of `probes` probes (unless one runs); returns the first probe's frame to send, or empty.
  std::string start(std::int64_t now_ns, int probes = channel::kClockProbes);
  // A clock_reading arrived at `now_ns`: the next probe's frame, or empty once this reading was
  // the last or not one this measurement waits for (`*done` then says whether it ended with it).
  std::string on_reading(std::string_view payload, std::int64_t now_ns, std::optional<channel::ClockCorrection>* done);
  // Milliseconds until the measurement is given up, for poll(); -1 when none runs.
  int timeout_ms(std::int64_t now_ns) const;
  // Ends a measurement past its time.
  void give_up_if_late(std::int64_t now_ns);

 private:
  std::string probe(std::int64_t now_ns);

  bool running_ = false;
  unsigned ended_ = 0;
  std::uint64_t probe_number_ = 0;
  std::int64_t sent_ns_ = 0;
  std::int64_t started_ns_ = 0;
  std::size_t probes_ = 0;
  std::vector<channel::ClockSample> samples_;
};

// When the guest measures of its own accord: every channel::kClockCheckIntervalNs on its
// CLOCK_MONOTONIC (which our corrections never step). A loop held up for several intervals
// measures once, not once for each.
class PeriodicClockCheck {
 public:
  explicit PeriodicClockCheck(std::int64_t now_ns) : next_ns_(now_ns + channel::kClockCheckIntervalNs) {}
  // Whether a check is due at now_ns; if so, the next one is an interval on.
  bool due(std::int64_t now_ns);
  // Milliseconds until the next one, for poll().
  int timeout_ms(std::int64_t now_ns) const;

 private:
  std::int64_t next_ns_;
};

// Steps or slews CLOCK_REALTIME (adjtimex), and tells the kernel the clock is synchronised.
// Throws runcvm::Error with the call's errno.
void apply_clock_correction(const channel::ClockCorrection& correction);

}  // namespace runcvm::vm_init
