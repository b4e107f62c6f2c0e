#include "channel/clock_sync.hpp"

#include <algorithm>

namespace runcvm::channel {
namespace {

void put_u64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

std::uint64_t get_u64(std::string_view in) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

std::int64_t magnitude(std::int64_t value) { return value < 0 ? -value : value; }

}  // namespace

std::string clock_probe_payload(std::uint64_t probe) {
  std::string out;
  put_u64(out, probe);
  return out;
}

std::string clock_reading_payload(const ClockReading& reading) {
  std::string out;
  put_u64(out, reading.probe);
  put_u64(out, static_cast<std::uint64_t>(reading.host_ns));
  return out;
}

std::optional<std::uint64_t> parse_clock_probe(std::string_view payload) {
  if (payload.size() != 8) return std::nullopt;
  return get_u64(payload);
}

std::optional<ClockReading> parse_clock_reading(std::string_view payload) {
  if (payload.size() != 16) return std::nullopt;
  return ClockReading{get_u64(payload), static_cast<std::int64_t>(get_u64(payload.substr(8)))};
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
