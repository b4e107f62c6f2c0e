#include "container/runcvm-init/port_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace runcvm::container_init {

PortWriter::PortWriter(int fd) : fd_(fd) {
  if (fd_ >= 0) ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

void PortWriter::send(std::string_view frame) {
  if (fd_ < 0) return;
  queue_.append(frame);
  flush();
}

void PortWriter::flush() {
  while (fd_ >= 0 && written_ < queue_.size()) {
    ssize_t n = ::write(fd_, queue_.data() + written_, queue_.size() - written_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {  // EPIPE, ECONNRESET: QEMU is gone
      fd_ = -1;
      queue_.clear();
      written_ = 0;
      return;
    }
    written_ += static_cast<std::size_t>(n);
  }
  // Keep the buffer from growing with what is already out.
  if (written_ == queue_.size()) {
    queue_.clear();
    written_ = 0;
  } else if (written_ > (1 << 16) && written_ * 2 > queue_.size()) {
    queue_.erase(0, written_);
    written_ = 0;
  }
}

}  // namespace runcvm::container_init
