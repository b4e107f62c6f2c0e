#include "channel/clock_sync.hpp"

#include <algorithm>

#include "common/bytes.hpp"

namespace runcvm::channel {
namespace {

// |value| without overflow at INT64_MIN.
std::uint64_t magnitude(std::int64_t value) {
  return value < 0 ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
}

}  // namespace

std::string clock_probe_payload(std::uint64_t probe) {
  std::string out;
  append_big_endian<std::uint64_t>(out, probe);
  return out;
}

std::string clock_reading_payload(const ClockReading& reading) {
  std::string out;
  append_big_endian<std::uint64_t>(out, reading.probe);
  append_big_endian<std::uint64_t>(out, static_cast<std::uint64_t>(reading.host_ns));
  return out;
}

std::optional<std::uint64_t> parse_clock_probe(std::string_view payload) {
  if (payload.size() != 8) return std::nullopt;
  return big_endian<std::uint64_t>(payload);
}

std::optional<ClockReading> parse_clock_reading(std::string_view payload) {
  if (payload.size() != 16) return std::nullopt;
  return ClockReading{big_endian<std::uint64_t>(payload),
                      static_cast<std::int64_t>(big_endian<std::uint64_t>(payload.substr(8)))};
}

ClockSample clock_sample(std::int64_t sent_ns, std::int64_t received_ns, std::int64_t host_ns) {
  // The host's reading is the peer's word: a value whose offset does not fit makes a sample that
  // is never chosen (a negative round trip), not an overflow.
  std::int64_t round_trip = 0, offset = 0;
  if (__builtin_sub_overflow(received_ns, sent_ns, &round_trip)) return {0, -1};
  std::int64_t middle = sent_ns + round_trip / 2;  // between the two ends: no overflow
  if (__builtin_sub_overflow(host_ns, middle, &offset)) return {0, -1};
  return {offset, round_trip};
}

ClockCorrection clock_correction(const std::vector<ClockSample>& samples) {
  auto best = std::min_element(samples.begin(), samples.end(), [](const ClockSample& a, const ClockSample& b) {
    // A negative round trip means the guest's clock was set between the two readings.
    if ((a.round_trip_ns < 0) != (b.round_trip_ns < 0)) return b.round_trip_ns < 0;
    return a.round_trip_ns < b.round_trip_ns;
  });
  if (best == samples.end() || best->round_trip_ns < 0) return {};
  std::int64_t offset = best->offset_ns;
  std::int64_t uncertainty = best->round_trip_ns / 2;
  if (magnitude(offset) > static_cast<std::uint64_t>(std::max(kClockStepAboveNs, uncertainty)))
    return {ClockAction::step, offset};
  // Within its uncertainty, the sample does not say the clock is off: slewing by it would only
  // add the probe's noise (measured: single probes with one slow leg slewed the guest 2.6 ms away).
  if (best->round_trip_ns > kClockVagueRoundTripNs || magnitude(offset) <= static_cast<std::uint64_t>(uncertainty))
    return {};
  return {ClockAction::slew, offset};
}

}  // namespace runcvm::channel
