#include "channel/frame.hpp"

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace runcvm::channel {

std::string encode(FrameType type, std::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  out += static_cast<char>(type);
  append_big_endian<std::uint32_t>(out, static_cast<std::uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string u32_bytes(std::uint32_t value) {
  std::string out;
  append_big_endian<std::uint32_t>(out, value);
  return out;
}

std::string encode_u32(FrameType type, std::uint32_t value) { return encode(type, u32_bytes(value)); }

std::string encode_resize(unsigned rows, unsigned columns) {
  std::string payload;
  append_big_endian(payload, static_cast<std::uint16_t>(rows));
  append_big_endian(payload, static_cast<std::uint16_t>(columns));
  return encode(FrameType::resize, payload);
}

std::optional<std::pair<unsigned, unsigned>> decode_resize(std::string_view payload) {
  if (payload.size() != 4) return std::nullopt;
  return std::pair<unsigned, unsigned>{big_endian<std::uint16_t>(payload),
                                       big_endian<std::uint16_t>(payload.substr(2))};
}

std::uint32_t payload_u32(const Frame& frame) {
  if (frame.payload.size() != 4)
    throw Error("channel: frame type " + std::to_string(int(frame.type)) + " needs 4 bytes");
  return big_endian<std::uint32_t>(frame.payload);
}

std::optional<Frame> Decoder::next() {
  std::string_view pending = std::string_view(buffer_).substr(offset_);
  if (pending.size() < 5) return std::nullopt;
  auto type = static_cast<std::uint8_t>(pending[0]);
  if (type < 1 || type > kLastFrameType) throw Error("channel: unknown frame type " + std::to_string(type));
  std::uint32_t length = big_endian<std::uint32_t>(pending.substr(1));
  if (length > kMaxPayload) throw Error("channel: frame of " + std::to_string(length) + " bytes is too large");
  if (pending.size() < 5 + length) return std::nullopt;
  Frame frame{static_cast<FrameType>(type), std::string(pending.substr(5, length))};
  offset_ += 5 + length;
  // Drop consumed bytes once they dominate the buffer, so long streams stay O(n).
  if (offset_ > 65536 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return frame;
}

}  // namespace runcvm::channel
