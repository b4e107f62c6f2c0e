#include "common/stream_relay.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace runcvm {

void relay_both_ways(int a, int b) {
  bool a_open = true, b_open = true;
  char buffer[65536];
  while (a_open || b_open) {
    pollfd fds[2] = {{a_open ? a : -1, POLLIN, 0}, {b_open ? b : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = i == 0 ? a : b, to = i == 0 ? b : a;
      ssize_t n = ::read(from, buffer, sizeof buffer);
      if (n <= 0) {
        ::shutdown(to, SHUT_WR);
        (i == 0 ? a_open : b_open) = false;
        continue;
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(to, buffer + done, static_cast<size_t>(n - done));
        if (w <= 0) return;
        done += w;
      }
    }
  }
}

}  // namespace runcvm
