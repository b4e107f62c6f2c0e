#include "channel/input.hpp"

#include "channel/frame.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"

namespace runcvm::channel {

std::optional<std::string> read_input_frame(int fd, bool& open) {
  bool would_block = false;
  std::string data = read_some_or_end(fd, 65536, would_block);
  if (would_block) return std::nullopt;
  if (data.empty()) {
    open = false;
    return encode(FrameType::stdin_eof);
  }
  return encode(FrameType::stdin_data, data);
}

}  // namespace runcvm::channel
