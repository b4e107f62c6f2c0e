#include "channel/clock_sync.hpp"

#include <algorithm>

#include "common/bytes.hpp"

namespace runcvm::channel {
namespace {

std::int64_t magnitude(std::int64_t value) { return value < 0 ? -value : value; }

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
  std::int64_t round_trip = received_ns - sent_ns;
  // The midpoint without overflow: both ends are close together.
  std::int64_t middle = sent_ns + round_trip / 2;
  return {host_ns - middle, round_trip};
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
  if (magnitude(offset) > std::max(kClockStepAboveNs, uncertainty)) return {ClockAction::step, offset};
  if (best->round_trip_ns > kClockVagueRoundTripNs || offset == 0) return {};
  return {ClockAction::slew, offset};
}

}  // namespace runcvm::channel
