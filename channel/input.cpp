#include "channel/input.hpp"

#include "channel/frame.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"

namespace runcvm::channel {

std::optional<std::string> read_input_frame(int fd, bool& open) {
  bool would_block = false;
  std::string data;
  try {
    data = read_some(fd, 65536, would_block, "stdin");
  } catch (const Error&) {
    data.clear();
  }
  if (would_block) return std::nullopt;
  if (data.empty()) {
    open = false;
    return encode(FrameType::stdin_eof);
  }
  return encode(FrameType::stdin_data, data);
}

}  // namespace runcvm::channel
