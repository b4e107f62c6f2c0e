// The host⇄VM channel (channel/): frames, exec sessions and their windows, start-up stages.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>

#include "channel/boot_stages.hpp"
#include "channel/frame.hpp"
#include "channel/session.hpp"
#include "common/error.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("channel frames survive being split anywhere", "[channel]") {
  std::string binary("\0\xff\n\x01 bytes", 10);
  std::string stream = channel::encode(channel::FrameType::stdout_data, binary) +
                       channel::encode(channel::FrameType::stderr_data, "err") +
                       channel::encode_u32(channel::FrameType::exit_status, 137) + channel::encode_resize(40, 132) +
                       channel::encode(channel::FrameType::stdin_eof);
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    channel::Decoder decoder;
    std::vector<channel::Frame> frames;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      decoder.feed(std::string_view(stream).substr(at, chunk));
      while (auto frame = decoder.next()) frames.push_back(*frame);
    }
    REQUIRE(frames.size() == 5);
    CHECK(frames[0].payload == binary);
    CHECK(frames[1].type == channel::FrameType::stderr_data);
    CHECK(channel::payload_u32(frames[2]) == 137u);
    CHECK(frames[3].payload == std::string("\x00\x28\x00\x84", 4));
    CHECK(frames[4].payload.empty());
  }
}

TEST_CASE("malformed channel input is an error, not a crash", "[channel]") {
  channel::Decoder unknown;
  unknown.feed(std::string("\x42\0\0\0\0", 5));
  CHECK_THROWS_WITH(unknown.next(), "channel: unknown frame type 66");
  channel::Decoder huge;
  huge.feed(std::string("\x03\x7f\xff\xff\xff", 5));
  CHECK_THROWS_WITH(huge.next(), ContainsSubstring("too large"));
  CHECK_THROWS_AS(channel::payload_u32({channel::FrameType::exit_status, "12"}), Error);
}

TEST_CASE("exec sessions share a port: frames name their session", "[channel][exec]") {
  std::string stream = channel::encode_session(channel::FrameType::exec_open, 7, "{\"args\":[\"true\"]}") +
                       channel::encode_session_u32(channel::FrameType::window, 0xfffffffe, 65536) +
                       channel::encode_session(channel::FrameType::stdin_eof, 3);
  channel::Decoder decoder;
  decoder.feed(stream);
  std::vector<channel::SessionFrame> frames;
  while (auto frame = decoder.next()) frames.push_back(channel::split_session(*frame));
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].type == channel::FrameType::exec_open);
  CHECK(frames[0].session == 7u);
  CHECK(frames[0].payload == "{\"args\":[\"true\"]}");
  CHECK(frames[1].session == 0xfffffffeu);
  CHECK(channel::payload_u32({frames[1].type, frames[1].payload}) == 65536u);
  CHECK(frames[2].session == 3u);
  CHECK(frames[2].payload.empty());
  CHECK_THROWS_WITH(channel::split_session({channel::FrameType::window, "ab"}), ContainsSubstring("no session id"));
  CHECK(channel::session_u32(frames[1]) == 65536u);
  CHECK_FALSE(channel::session_u32(frames[2]));  // no value: ignored, not fatal
  CHECK(channel::decode_resize(channel::encode_resize(40, 132).substr(5)) == std::pair{40u, 132u});
  CHECK_FALSE(channel::decode_resize("abc"));
}

TEST_CASE("a session's window bounds what is in flight and credit frees it", "[channel][exec]") {
  channel::SendWindow window;
  CHECK(window.available() == channel::kSessionWindow);
  window.sent(channel::kSessionWindow - 10);
  CHECK(window.available() == 10);
  window.sent(100);  // a frame may overshoot; the sender then waits
  CHECK(window.available() == 0);
  window.credited(200);
  CHECK(window.available() == 110);
  window.credited(channel::kSessionWindow * 4);  // a peer's excess credit is capped
  CHECK(window.available() == channel::kSessionWindow);

  // Credit is released only once a data frame has been written out whole.
  channel::CreditedQueue queue;
  queue.push(std::string(10, 'a'), 5);
  queue.push(std::string(4, 'b'), 0);  // an exit status: no credit
  queue.push(std::string(6, 'c'), 1);
  CHECK(queue.consumed(9) == 0);
  CHECK(queue.pending() == "a" + std::string(4, 'b') + std::string(6, 'c'));
  CHECK(queue.consumed(1) == 5);
  CHECK(queue.consumed(9) == 0);
  CHECK(queue.consumed(1) == 1);
  CHECK(queue.empty());
}

TEST_CASE("the guest's start-up stages travel as text and place on the host's clock", "[channel][timings]") {
  channel::GuestStages guest{1.5, 1.75, 1.8, 1.85, 1.9};
  std::string text = channel::format_guest_stages(guest);
  CHECK(text == "initramfs=1.500000 vm_init=1.750000 workload_start=1.800000 workload_exit=1.850000 sent=1.900000");
  auto back = channel::parse_guest_stages(text);
  CHECK(back.initramfs == 1.5);
  CHECK(back.sent == 1.9);

  // The report left the guest at its second 1.9 and arrived at host time 10.9 s: guest second 0 is
  // host time 9.0 s, QEMU (started at 8.6 s) took 400 ms before the kernel counted time.
  channel::HostStages host{8'590'000'000, 8'600'000'000, 10'900'000'000, 11'000'000'000};
  CHECK(channel::format_timings_line(host, guest) ==
        "runcvm: timings (ms): helpers=10 qemu+firmware=400 kernel=1500 initramfs=250 vm-init=50 workload=50 "
        "shutdown=150 total=2410 started_at=8590 ended_at=11000");
  // Restored from a template at host time 10.65 s, after 2.05 s of loading: the guest's seconds
  // count on from the template's boot, and its initramfs ran from the resume to vm-init (10.75 s).
  host.resumed = 10'650'000'000;
  CHECK(channel::format_timings_line(host, guest) ==
        "runcvm: timings (ms): helpers=10 restore=2050 initramfs=100 vm-init=50 workload=50 shutdown=150 total=2410 "
        "started_at=8590 ended_at=11000");

  CHECK_THROWS_WITH(channel::parse_guest_stages("initramfs=1 vm_init=x"),
                    ContainsSubstring("vm_init=\"x\": expected seconds"));
  CHECK_THROWS_WITH(channel::parse_guest_stages("initramfs=1"), ContainsSubstring("missing vm_init"));
  CHECK_THROWS_WITH(channel::parse_guest_stages("bogus"), ContainsSubstring("\"bogus\": expected <stage>=<seconds>"));
  CHECK_THROWS_WITH(channel::parse_guest_stages("initramfs=-1"), ContainsSubstring("expected seconds"));
}
