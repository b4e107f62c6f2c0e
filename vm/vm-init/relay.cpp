#include "vm/vm-init/relay.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.hpp"
#include "common/file.hpp"
#include "common/reap.hpp"
#include "common/terminal.hpp"

namespace runcvm::vm_init {

using channel::FrameType;

int Relay::run() {
  while (!exit_code_ || open_outputs() > 0) {
    std::vector<pollfd> fds = {{port_, POLLIN, 0}, {signals_, POLLIN, 0}};
    if (w_.terminal && w_.stdin_write) fds.push_back({w_.stdin_write.get(), POLLIN, 0});
    if (w_.stdout_read) fds.push_back({w_.stdout_read.get(), POLLIN, 0});
    if (w_.stderr_read) fds.push_back({w_.stderr_read.get(), POLLIN, 0});
    // Once the workload is gone, output still in flight is collected for a short while only:
    // background processes it left may hold the pipes open forever, as in a container.
    int timeout = exit_code_ ? 200 : -1;
    int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw system_error("polling", "the channel", errno);
    if (ready == 0) break;
    for (const auto& p : fds) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (p.fd == port_)
        read_channel();
      else if (p.fd == signals_)
        reap();
      else
        forward_output(p.fd);
    }
  }
  return *exit_code_;
}

void Relay::wait_for_ack(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{port_, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0 && read_channel(/*ack_only=*/true)) return;
  }
}

int Relay::open_outputs() const {
  if (w_.terminal) return w_.stdin_write ? 1 : 0;
  return (w_.stdout_read ? 1 : 0) + (w_.stderr_read ? 1 : 0);
}

void Relay::send(const std::string& frame) { write_all(port_, frame, "the channel"); }

void Relay::forward_output(int fd) {
  bool would_block = false;
  std::string data = read_some(fd, 65536, would_block, "the workload's output");
  if (would_block) return;
  bool is_err = w_.stderr_read && fd == w_.stderr_read.get();
  if (data.empty()) {
    if (w_.terminal)
      w_.stdin_write.reset();
    else if (is_err)
      w_.stderr_read.reset();
    else
      w_.stdout_read.reset();
    return;
  }
  send(channel::encode(is_err ? FrameType::stderr_data : FrameType::stdout_data, data));
}

bool Relay::read_channel(bool ack_only) {
  bool would_block = false;
  std::string data = read_some(port_, 65536, would_block, "the channel");
  if (would_block || data.empty()) return false;
  decoder_.feed(data);
  bool acked = false;
  while (auto frame = decoder_.next()) {
    switch (frame->type) {
      case FrameType::stdin_data:
        if (w_.stdin_write && !ack_only) write_all(w_.stdin_write.get(), frame->payload, "the workload's stdin");
        break;
      case FrameType::stdin_eof:
        // A pty has no end of input other than ^D, which the terminal side sends itself.
        if (!w_.terminal) w_.stdin_write.reset();
        break;
      case FrameType::signal:
        if (w_.pid > 0 && !exit_code_) ::kill(w_.pid, static_cast<int>(channel::payload_u32(*frame)));
        break;
      case FrameType::resize:
        if (auto size = channel::decode_resize(frame->payload); size && w_.terminal && w_.stdin_write)
          set_terminal_size(w_.stdin_write.get(), size->first, size->second);
        break;
      case FrameType::exit_ack:
        acked = true;
        break;
      default:
        break;
    }
  }
  return acked;
}

// PID 1 reaps every child; only the workload's status matters.
void Relay::reap() {
  for (auto [pid, status] : reap_children(signals_))
    if (pid == w_.pid) exit_code_ = exit_code_of(status);
}

}  // namespace runcvm::vm_init
