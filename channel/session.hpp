// Exec sessions over the exec port: many `docker exec` sessions share one virtio-serial port, so
// every frame carries a session id (4 bytes, big-endian, first in the payload). Each direction of
// each session has a window: a sender keeps at most kSessionWindow bytes of a session's data
// unacknowledged, and the receiver returns credit (FrameType::window) once it has passed the
// bytes on. A session whose reader stalls therefore stops only itself, never the port.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "channel/frame.hpp"

namespace runcvm::channel {

inline constexpr const char* kExecPortName = "org.runcvm.exec";
inline constexpr std::size_t kSessionWindow = 256 * 1024;
// The largest data frame a sender makes (well under kMaxPayload).
inline constexpr std::size_t kSessionChunk = 64 * 1024;

struct SessionFrame {
  FrameType type;
  std::uint32_t session = 0;
  std::string payload;
};

std::string encode_session(FrameType type, std::uint32_t session, std::string_view payload = {});
std::string encode_session_u32(FrameType type, std::uint32_t session, std::uint32_t value);
// Throws runcvm::Error when the frame is too short to name a session.
SessionFrame split_session(Frame frame);
// A session frame's 4-byte value (window credit, signal); nullopt for any other payload size,
// so that a malformed frame from the peer is ignored rather than fatal.
std::optional<std::uint32_t> session_u32(const SessionFrame& frame);

// The bytes a sender may still send on one session direction.
class SendWindow {
 public:
  std::size_t available() const { return in_flight_ >= kSessionWindow ? 0 : kSessionWindow - in_flight_; }
  void sent(std::size_t bytes) { in_flight_ += bytes; }
  // Credit beyond what is in flight is a peer's error; it is capped rather than trusted.
  void credited(std::size_t bytes) { in_flight_ -= bytes < in_flight_ ? bytes : in_flight_; }

 private:
  std::size_t in_flight_ = 0;
};

// A receiver's queue of frames for a slow consumer (a client socket): it tells how much credit
// the bytes written so far release, counting a data frame's payload once the whole frame is out.
class CreditedQueue {
 public:
  void push(std::string frame, std::size_t credit);
  bool empty() const { return pending_.empty(); }
  std::string_view pending() const { return pending_; }
  // `bytes` of pending() were written; returns the credit this releases.
  std::size_t consumed(std::size_t bytes);

 private:
  struct Mark {
    std::uint64_t end;  // stream offset just past the frame
    std::size_t credit;
  };
  std::string pending_;
  std::uint64_t queued_ = 0;
  std::uint64_t written_ = 0;
  std::deque<Mark> marks_;
};

}  // namespace runcvm::channel
