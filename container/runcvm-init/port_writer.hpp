// What runcvm-init sends to the VM on a port (the channel, the exec port), queued rather than
// written with a blocking call: a guest that stops reading its port then stalls only what it would
// receive, never runcvm-init's loop (signals, other sessions, the VM's exit). Callers that produce
// traffic on behalf of somebody else (stdin, exec clients) hold off while the port is congested,
// which bounds the queue.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace runcvm::container_init {

// Past this many queued bytes the port is congested: stop reading what would add to it.
inline constexpr std::size_t kPortBacklogLimit = 1 << 20;

class PortWriter {
 public:
  // `fd` stays the caller's; it is made non-blocking.
  explicit PortWriter(int fd);

  // Queues `frame` and writes what the port takes now. After the port failed (QEMU closed it),
  // frames are dropped: the reading side sees the end and winds down.
  void send(std::string_view frame);
  // Writes more of the queue; call when poll reports POLLOUT.
  void flush();
  bool wants_write() const { return fd_ >= 0 && !queue_.empty(); }
  std::size_t backlog() const { return queue_.size() - written_; }
  bool congested() const { return backlog() > kPortBacklogLimit; }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string queue_;
  std::size_t written_ = 0;  // bytes of queue_ already out
};

}  // namespace runcvm::container_init
