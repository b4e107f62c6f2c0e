// The sending side of a relayed stdin (runcvm-init for `docker run -i`, runcvm-exec for
// `docker exec -i`): what the descriptor has becomes a frame for the guest.
#pragma once

#include <optional>
#include <string>

namespace runcvm::channel {

// Reads what `fd` (non-blocking) has: a stdin_data frame, or a stdin_eof frame at its end (then
// `open` becomes false; an unreadable stdin counts as ended); nothing when it would block.
std::optional<std::string> read_input_frame(int fd, bool& open);

}  // namespace runcvm::channel
