#include "channel/session.hpp"

#include "common/error.hpp"

namespace runcvm::channel {

std::string encode_session(FrameType type, std::uint32_t session, std::string_view payload) {
  std::string body = u32_bytes(session);
  body.append(payload);
  return encode(type, body);
}

std::string encode_session_u32(FrameType type, std::uint32_t session, std::uint32_t value) {
  return encode_session(type, session, u32_bytes(value));
}

std::optional<std::uint32_t> session_u32(const SessionFrame& frame) {
  if (frame.payload.size() != 4) return std::nullopt;
  return payload_u32(Frame{frame.type, frame.payload});
}

SessionFrame split_session(Frame frame) {
  if (frame.payload.size() < 4)
    throw Error("exec channel: frame type " + std::to_string(int(frame.type)) + " has no session id");
  std::uint32_t session = payload_u32(Frame{frame.type, frame.payload.substr(0, 4)});
  frame.payload.erase(0, 4);
  return {frame.type, session, std::move(frame.payload)};
}

void CreditedQueue::push(std::string frame, std::size_t credit) {
  queued_ += frame.size();
  pending_ += frame;
  if (credit > 0) marks_.push_back({queued_, credit});
}

std::size_t CreditedQueue::consumed(std::size_t bytes) {
  pending_.erase(0, bytes);
  written_ += bytes;
  std::size_t credit = 0;
  while (!marks_.empty() && marks_.front().end <= written_) {
    credit += marks_.front().credit;
    marks_.pop_front();
  }
  return credit;
}

}  // namespace runcvm::channel
