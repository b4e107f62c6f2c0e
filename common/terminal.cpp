#include "common/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace runcvm {

RawTerminal::RawTerminal(bool enable) {
  if (!enable || !::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
  termios raw = saved_;
  ::cfmakeraw(&raw);
  active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  if (active_) ::tcsetattr(0, TCSANOW, &saved_);
}

std::optional<std::pair<unsigned, unsigned>> terminal_size(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_row == 0) return std::nullopt;
  return std::pair<unsigned, unsigned>{size.ws_row, size.ws_col};
}

void set_terminal_size(int fd, unsigned rows, unsigned columns) {
  winsize size{static_cast<unsigned short>(rows), static_cast<unsigned short>(columns), 0, 0};
  ::ioctl(fd, TIOCSWINSZ, &size);
}

}  // namespace runcvm
