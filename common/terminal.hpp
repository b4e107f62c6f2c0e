// The terminal on our stdin, for the programs that relay one into the VM (runcvm-init for
// `docker run -t`, runcvm-exec for `docker exec -t`): the guest's pty does the line editing and
// echoing, so the terminal here must pass keystrokes through untouched.
#pragma once

#include <termios.h>

#include <optional>
#include <utility>

namespace runcvm {

// Puts fd 0 in raw mode while alive (when `enable` and it is a terminal); restores it after.
class RawTerminal {
 public:
  explicit RawTerminal(bool enable);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// Rows and columns of the terminal on fd, if it is one with a size.
std::optional<std::pair<unsigned, unsigned>> terminal_size(int fd);
// Sets the size of the terminal (or pty master) on fd; best effort, as a resize is.
void set_terminal_size(int fd, unsigned rows, unsigned columns);

}  // namespace runcvm
