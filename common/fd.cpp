#include "common/fd.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"

namespace runcvm {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

void write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
    } else {
      throw system_error("writing to", what, n < 0 ? errno : EIO);
    }
  }
}

std::string read_some(int fd, std::size_t max, bool& would_block, std::string_view what) {
  std::string buffer(max, '\0');
  would_block = false;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), max);
    if (n >= 0) {
      buffer.resize(static_cast<std::size_t>(n));
      return buffer;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      would_block = true;
      return {};
    }
    // A pty master reports the end of its slave side as EIO.
    if (errno == EIO) return {};
    throw system_error("reading from", what, errno);
  }
}

std::string read_some_or_end(int fd, std::size_t max, bool& would_block) {
  try {
    return read_some(fd, max, would_block, "");
  } catch (const Error&) {
    would_block = false;
    return {};
  }
}

}  // namespace runcvm
