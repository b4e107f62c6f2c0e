// The guest's clock follows the host's (channel/clock_sync.hpp): the protocol's payloads, the
// offset arithmetic and the choice between slewing and stepping, the guest agent's measurement,
// runcvm-init's answers and when it asks for a measurement. The guest is hostile: its probes are
// answered within the port's bounds, and a reading the agent did not ask for changes nothing.
#include <algorithm>

#include <catch2/catch_test_macros.hpp>

#include "channel/boot_stages.hpp"
#include "channel/clock_sync.hpp"
#include "channel/session.hpp"
#include "container/runcvm-init/clock_watch.hpp"
#include "container/runcvm-init/port_writer.hpp"
#include "tests/common/exec_mux_rig.hpp"
#include "vm/vm-init/guest_clock.hpp"

namespace runcvm {
namespace {

using channel::ClockAction;
using channel::ClockSample;
using channel::FrameType;

constexpr std::int64_t kMs = 1'000'000;

std::vector<channel::SessionFrame> frames_of(const std::string& bytes) {
  channel::Decoder decoder;
  decoder.feed(bytes);
  std::vector<channel::SessionFrame> frames;
  while (auto frame = decoder.next()) frames.push_back(channel::split_session(std::move(*frame)));
  return frames;
}

TEST_CASE("clock payloads have one size each; any other is not a probe or a reading", "[channel][clock]") {
  CHECK(channel::parse_clock_probe(channel::clock_probe_payload(0x0102030405060708)) == 0x0102030405060708u);
  auto reading = channel::parse_clock_reading(channel::clock_reading_payload({7, -5 * kMs}));
  REQUIRE(reading);
  CHECK(reading->probe == 7);
  CHECK(reading->host_ns == -5 * kMs);
  CHECK_FALSE(channel::parse_clock_probe("1234567"));
  CHECK_FALSE(channel::parse_clock_probe("123456789"));
  CHECK_FALSE(channel::parse_clock_reading(channel::clock_probe_payload(7)));
  CHECK_FALSE(channel::parse_clock_reading(channel::clock_reading_payload({7, 1}) + "x"));
}

TEST_CASE("a clock sample places the host's reading in the middle of the round trip", "[channel][clock]") {
  ClockSample behind = channel::clock_sample(1000 * kMs, 1002 * kMs, 2001 * kMs);
  CHECK(behind.round_trip_ns == 2 * kMs);
  CHECK(behind.offset_ns == 1000 * kMs);  // the guest is a second behind
  ClockSample ahead = channel::clock_sample(5000 * kMs, 5004 * kMs, 4999 * kMs);
  CHECK(ahead.offset_ns == -3 * kMs);
  // Real times (2026, in nanoseconds) do not overflow.
  std::int64_t now = 1'796'000'000LL * 1'000'000'000LL;
  CHECK(channel::clock_sample(now, now + 800'000, now + 400'000).offset_ns == 0);
  // A host reading at either end of the range makes a sample that is never chosen, not an overflow.
  for (std::int64_t host : {INT64_MIN, INT64_MAX}) {
    ClockSample extreme = channel::clock_sample(now, now + 800'000, host);
    if (extreme.round_trip_ns >= 0) CHECK(channel::clock_correction({extreme}).action == ClockAction::step);
  }
  CHECK(channel::clock_sample(INT64_MIN, INT64_MAX, 0).round_trip_ns < 0);
  CHECK(channel::clock_correction({channel::clock_sample(now, now + 800'000, INT64_MIN)}).action != ClockAction::slew);
}

TEST_CASE("the shortest round trip decides; large offsets are stepped, small ones slewed", "[channel][clock]") {
  SECTION("a second behind, seen through a slow and a fast round trip: stepped by the fast one's offset") {
    auto c = channel::clock_correction({{1000 * kMs + 3 * kMs, 9 * kMs}, {1000 * kMs, 1 * kMs}});
    CHECK(c.action == ClockAction::step);
    CHECK(c.offset_ns == 1000 * kMs);
  }
  SECTION("a few milliseconds either way are slewed") {
    CHECK(channel::clock_correction({{3 * kMs, kMs}}).action == ClockAction::slew);
    auto ahead = channel::clock_correction({{-4 * kMs, kMs}});
    CHECK(ahead.action == ClockAction::slew);
    CHECK(ahead.offset_ns == -4 * kMs);
  }
  SECTION("an offset within the round trip's uncertainty is kept: nothing says the clock is off") {
    CHECK(channel::clock_correction({{2 * kMs, 5 * kMs}}).action == ClockAction::keep);
    CHECK(channel::clock_correction({{-kMs / 2, kMs}}).action == ClockAction::keep);
    CHECK(channel::clock_correction({{-kMs / 2 - 1, kMs}}).action == ClockAction::slew);
    CHECK(channel::clock_correction({{3 * kMs, 5 * kMs}}).action == ClockAction::slew);
  }
  SECTION("past the step threshold, in either direction") {
    CHECK(channel::clock_correction({{channel::kClockStepAboveNs + 1, kMs}}).action == ClockAction::step);
    CHECK(channel::clock_correction({{-channel::kClockStepAboveNs - 1, kMs}}).action == ClockAction::step);
    CHECK(channel::clock_correction({{channel::kClockStepAboveNs, kMs}}).action == ClockAction::slew);
  }
  SECTION("a vague measurement (a starved guest) slews nothing and steps only beyond its uncertainty") {
    CHECK(channel::clock_correction({{5 * kMs, 30 * kMs}}).action == ClockAction::keep);
    CHECK(channel::clock_correction({{14 * kMs, 30 * kMs}}).action == ClockAction::keep);
    CHECK(channel::clock_correction({{30'000 * kMs, 30 * kMs}}).action == ClockAction::step);
  }
  SECTION("nothing to go by: no samples, or only ones across a clock set by somebody else") {
    CHECK(channel::clock_correction({}).action == ClockAction::keep);
    CHECK(channel::clock_correction({{30'000 * kMs, -kMs}}).action == ClockAction::keep);
    CHECK(channel::clock_correction({{0, kMs}}).action == ClockAction::keep);
  }
}

// What the agent sent: its probe's number.
std::uint64_t probe_number(const std::string& frame) {
  auto frames = frames_of(frame);
  REQUIRE(frames.size() == 1);
  REQUIRE(frames[0].type == FrameType::clock_probe);
  REQUIRE(frames[0].session == channel::kControlSession);
  auto number = channel::parse_clock_probe(frames[0].payload);
  REQUIRE(number);
  return *number;
}

TEST_CASE("the agent measures with probe after probe and ends with a correction", "[vm][clock]") {
  vm_init::ClockMeasurement m;
  std::int64_t now = 100'000 * kMs;  // the guest's clock, a second behind the host's
  std::optional<channel::ClockCorrection> done;
  std::string frame = m.start(now);
  CHECK(m.start(now).empty());  // one measurement at a time
  for (int i = 1; i <= channel::kClockProbes; ++i) {
    std::uint64_t number = probe_number(frame);
    CHECK(number == static_cast<std::uint64_t>(i));
    // A reading for another probe (late, repeated or forged) is not this one's.
    CHECK(m.on_reading(channel::clock_reading_payload({number + 1, 0}), now, &done).empty());
    CHECK_FALSE(done);
    CHECK(m.on_reading("short", now, &done).empty());
    now += kMs;
    frame = m.on_reading(channel::clock_reading_payload({number, now + 1000 * kMs - kMs / 2}), now, &done);
  }
  CHECK(frame.empty());
  REQUIRE(done);
  CHECK(done->action == ClockAction::step);
  CHECK(done->offset_ns == 1000 * kMs);
  CHECK_FALSE(m.running());
  CHECK(m.ended() == 1);
  CHECK(m.timeout_ms(now) == -1);
  // The finished measurement's probe answered again is ignored too.
  CHECK(m.on_reading(channel::clock_reading_payload({channel::kClockProbes, now}), now, &done).empty());
  CHECK_FALSE(done);
}

TEST_CASE("a check may ask for fewer probes, never for none or more than a thorough one", "[vm][clock]") {
  for (int asked : {1, 2, 0, channel::kClockProbes + 3}) {
    vm_init::ClockMeasurement m;
    std::int64_t now = 100'000 * kMs;
    std::optional<channel::ClockCorrection> done;
    std::string frame = m.start(now, asked);
    int sent = 0;
    while (!frame.empty()) {
      ++sent;
      std::uint64_t number = probe_number(frame);
      now += kMs;
      frame = m.on_reading(channel::clock_reading_payload({number, now - kMs / 2}), now, &done);
    }
    CHECK(sent == std::clamp(asked, 1, channel::kClockProbes));
    REQUIRE(done);
    CHECK(done->action == ClockAction::keep);  // the guest's clock is the host's here
  }
}

TEST_CASE("a measurement nobody answers is given up, and so is one across a clock set backwards", "[vm][clock]") {
  vm_init::ClockMeasurement m;
  std::int64_t start = 50'000 * kMs;
  m.start(start);
  CHECK(m.timeout_ms(start) > 900);
  m.give_up_if_late(start + vm_init::ClockMeasurement::kGiveUpAfterNs - 1);
  CHECK(m.running());
  m.give_up_if_late(start + vm_init::ClockMeasurement::kGiveUpAfterNs);
  CHECK_FALSE(m.running());
  CHECK(m.ended() == 1);
  std::string next = m.start(start);
  CHECK(probe_number(next) == 2);
  m.give_up_if_late(start - 10 * kMs);
  CHECK_FALSE(m.running());
  CHECK(m.ended() == 2);
}

TEST_CASE("the guest measures once a minute of its own accord, once after a stall", "[vm][clock]") {
  constexpr std::int64_t kMinute = channel::kClockCheckIntervalNs;
  std::int64_t boot = 7 * kMs;
  vm_init::PeriodicClockCheck check(boot);
  CHECK(check.timeout_ms(boot) == kMinute / kMs);
  CHECK_FALSE(check.due(boot + kMinute - 1));
  CHECK(check.timeout_ms(boot + kMinute - 1) == 1);  // rounded up: poll does not wake early
  CHECK(check.due(boot + kMinute));
  CHECK_FALSE(check.due(boot + kMinute));
  CHECK(check.timeout_ms(boot + kMinute) == kMinute / kMs);
  // The agent's loop held up for five minutes: one check, then a minute on from there.
  std::int64_t late = boot + 6 * kMinute;
  CHECK(check.due(late));
  CHECK_FALSE(check.due(late + kMinute - 1));
  CHECK(check.due(late + kMinute));
  CHECK(check.timeout_ms(late - kMinute) == kMinute / kMs);  // never more than an interval
  CHECK(channel::kPeriodicClockProbes < channel::kClockProbes);
}

TEST_CASE("runcvm-init answers the guest's clock probe at once with its own time", "[guest][exec][clock]") {
  test::ExecMuxRig rig;
  std::int64_t before = channel::realtime_ns();
  // Before the agent's `ready` too: its first measurement runs beside it.
  rig.guest_sends(
      channel::encode_session(FrameType::clock_probe, channel::kControlSession, channel::clock_probe_payload(42)));
  rig.step(2);
  std::int64_t after = channel::realtime_ns();
  auto frames = frames_of(rig.guest_receives());
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == FrameType::clock_reading);
  CHECK(frames[0].session == channel::kControlSession);
  auto reading = channel::parse_clock_reading(frames[0].payload);
  REQUIRE(reading);
  CHECK(reading->probe == 42);
  CHECK(reading->host_ns >= before);
  CHECK(reading->host_ns <= after);
}

TEST_CASE("malformed or flooded clock probes get no answer beyond the port's bounds", "[guest][exec][clock][hostile]") {
  test::ExecMuxRig rig;
  rig.guest_sends(channel::encode_session(FrameType::clock_probe, channel::kControlSession, "1234567") +
                  channel::encode_session(FrameType::clock_reading, channel::kControlSession,
                                          channel::clock_reading_payload({1, 1})) +
                  channel::encode_session(FrameType::clock_probe, 5, channel::clock_probe_payload(1)));
  rig.step(2);
  CHECK(rig.guest_receives().empty());
  CHECK(rig.mux().port_open());
  // Probes sent as fast as the port takes them by a guest that never reads the answers.
  std::string probes;
  for (int i = 0; i < 512; ++i)
    probes +=
        channel::encode_session(FrameType::clock_probe, channel::kControlSession, channel::clock_probe_payload(i));
  for (int round = 0; round < 400; ++round) {
    rig.guest_sends(probes);
    rig.step();
  }
  CHECK(rig.mux().queued_to_port() <= container_init::kPortBacklogLimit + 2 * channel::kSessionChunk);
  CHECK(rig.mux().port_open());
}

}  // namespace
}  // namespace runcvm
