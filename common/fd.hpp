// File descriptors for the guest programs' event loops: an owning handle, whole writes that
// survive EINTR and non-blocking peers, and reads that say when the other end is gone.
#pragma once

#include <string>
#include <string_view>

namespace runcvm {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Writes everything, waiting (poll) when the descriptor is non-blocking and full; throws
// runcvm::Error naming `what` on failure (EPIPE included).
void write_all(int fd, std::string_view data, std::string_view what);
// Reads what is available (up to `max` bytes). "" with would_block false is end of file (or a
// pty whose other side closed); "" with would_block true means try again after poll.
std::string read_some(int fd, std::size_t max, bool& would_block, std::string_view what);
// read_some for a peer that may vanish: a read error (ECONNRESET from a socket whose peer died)
// reads as end of file, since the caller's answer to both is to stop reading.
std::string read_some_or_end(int fd, std::size_t max, bool& would_block);

}  // namespace runcvm
