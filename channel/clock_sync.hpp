// The guest's clock follows the host's. The guest measures its offset as a client of a time
// server would: it sends a numbered probe on the exec port at its time t0, runcvm-init answers at
// once with its CLOCK_REALTIME, the answer arrives at the guest's time t1, and the host's reading
// is taken to belong to the middle of the round trip; of a few probes, the one with the shortest
// round trip (the least room for a delay on one leg) decides. Small offsets are slewed (the
// kernel's adjtime, at most 0.5 ms a second, so the clock never jumps), large ones stepped.
// CLOCK_MONOTONIC is never stepped either way. The guest measures at its start, then once a
// minute, and when the host asks (clock_check) because its own clock was set. A `docker pause`
// needs nothing more: the guest's TSC (or kvm-clock) counts on while QEMU is frozen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::channel {

// Probes of a thorough measurement, one after another; the shortest round trip wins.
inline constexpr int kClockProbes = 4;
// The guest's own periodic check: the guest's clock drifts about 10 ppm from the host's (measured
// under TCG), half a millisecond a minute, which one probe a minute slews away. One: each probe
// wakes runcvm-init, whose side sleeps while the VM idles.
inline constexpr std::int64_t kClockCheckIntervalNs = 60'000'000'000;
inline constexpr int kPeriodicClockProbes = 1;
// Offsets beyond this are stepped: slewing 10 ms takes 20 s at the kernel's 500 ppm.
inline constexpr std::int64_t kClockStepAboveNs = 10'000'000;
// A measurement whose best round trip is longer than this (a guest starved of CPU) is too vague
// to slew by; a larger offset than its uncertainty is still stepped.
inline constexpr std::int64_t kClockVagueRoundTripNs = 20'000'000;

struct ClockReading {
  std::uint64_t probe = 0;
  std::int64_t host_ns = 0;  // the host's CLOCK_REALTIME when it answered
};

// Payloads of the session-0 frames (the session id is added by encode_session).
std::string clock_probe_payload(std::uint64_t probe);
std::string clock_reading_payload(const ClockReading& reading);
// nullopt unless the payload has exactly the expected size: the peer's malformed frame is ignored.
std::optional<std::uint64_t> parse_clock_probe(std::string_view payload);
std::optional<ClockReading> parse_clock_reading(std::string_view payload);

struct ClockSample {
  std::int64_t offset_ns = 0;      // add to the guest's clock to get the host's
  std::int64_t round_trip_ns = 0;  // t1 - t0
};
// t0 and t1 on the guest's CLOCK_REALTIME, host_ns on the host's.
ClockSample clock_sample(std::int64_t sent_ns, std::int64_t received_ns, std::int64_t host_ns);

enum class ClockAction { keep, slew, step };
struct ClockCorrection {
  ClockAction action = ClockAction::keep;
  std::int64_t offset_ns = 0;
};
// What to do with a measurement's samples: the shortest round trip's offset, slewed or stepped,
// or kept when it is within half that round trip.
ClockCorrection clock_correction(const std::vector<ClockSample>& samples);

}  // namespace runcvm::channel
