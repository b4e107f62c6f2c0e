#include "container/runcvm-init/exec_mux.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "channel/boot_stages.hpp"
#include "channel/clock_sync.hpp"
#include "common/error.hpp"
#include "common/unix_socket.hpp"
#include "container/runcvm-init/console_tail.hpp"
#include "container/runcvm-init/notice.hpp"

namespace runcvm::container_init {

using channel::FrameType;

namespace {

// Output queued for one client beyond its window: headers of many small frames, the error and
// exit frames (which carry no credit). Past it the guest is flooding the session.
constexpr std::size_t kClientBacklogLimit = 4 * channel::kSessionWindow;

}  // namespace

ExecMux::ExecMux(UniqueFd port, std::string socket_path)
    : port_(std::move(port)),
      to_port_(port_.get()),
      socket_path_(std::move(socket_path)),
      control_(std::make_shared<ControlInbox>()) {
  ::unlink(socket_path_.c_str());  // left by an earlier start of this container
  control_->wakeup = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!control_->wakeup) throw system_error("creating", "the exec port's control eventfd", errno);
}

std::function<void(std::string)> ExecMux::control_sender() {
  return [inbox = control_](std::string frame) {
    std::lock_guard<std::mutex> hold(inbox->lock);
    inbox->frames.push_back(std::move(frame));
    std::uint64_t one = 1;
    (void)!::write(inbox->wakeup.get(), &one, sizeof one);
  };
}

void ExecMux::send_control_frames() {
  std::uint64_t count = 0;
  (void)!::read(control_->wakeup.get(), &count, sizeof count);
  std::deque<std::string> frames;
  {
    std::lock_guard<std::mutex> hold(control_->lock);
    frames.swap(control_->frames);
  }
  for (const auto& frame : frames) send(frame);
}

ExecMux::~ExecMux() {
  if (listener_) ::unlink(socket_path_.c_str());
}

void ExecMux::send(const std::string& frame) {
  if (port_) to_port_.send(frame);
}

std::size_t ExecMux::queued_to_clients() const {
  std::size_t total = 0;
  for (const auto& [id, c] : clients_) total += c.to_client.pending().size();
  return total;
}

void ExecMux::add_poll_fds(std::vector<pollfd>& fds) const {
  // While the guest does not take what is queued for it, nothing that adds to the queue is read:
  // not its own frames (they bring credit to return), not the clients.
  bool congested = to_port_.congested();
  if (port_)
    fds.push_back(
        {port_.get(), static_cast<short>((congested ? 0 : POLLIN) | (to_port_.wants_write() ? POLLOUT : 0)), 0});
  if (listener_) fds.push_back({listener_.get(), POLLIN, 0});
  fds.push_back({control_->wakeup.get(), POLLIN, 0});
  clock_watch_.add_poll_fds(fds);
  for (const auto& [id, c] : clients_) {
    short events = 0;
    // A client's input is read only while its session may take more: the guest's window bounds
    // what waits in the VM for a process that does not read its stdin.
    if (!congested && !c.finished && (!c.opened || c.stdin_window.available() > 0)) events |= POLLIN;
    if (!c.to_client.empty()) events |= POLLOUT;
    if (events) fds.push_back({c.fd.get(), events, 0});
  }
}

bool ExecMux::handle(const pollfd& p) {
  bool clock_check_due = false;
  if (clock_watch_.handle(p, &clock_check_due)) {
    // Before the agent says it runs, its first measurement is under way anyway.
    // Not onto a queue the guest does not drain: the guest checks within a minute anyway.
    if (clock_check_due && listener_ && !to_port_.congested())
      send(channel::encode_session(FrameType::clock_check, channel::kControlSession));
    return true;
  }
  if (!p.revents) return port_.get() == p.fd || listener_.get() == p.fd || control_->wakeup.get() == p.fd;
  if (p.fd == control_->wakeup.get()) {
    send_control_frames();
    return true;
  }
  if (port_ && p.fd == port_.get()) {
    // A hang-up is found by writing too: a congested port is not read until its queue drains.
    if (p.revents & (POLLOUT | POLLHUP | POLLERR)) to_port_.flush();
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) read_port();
    return true;
  }
  if (listener_ && p.fd == listener_.get()) {
    accept_clients();
    return true;
  }
  for (auto& [id, c] : clients_) {
    if (c.fd.get() != p.fd) continue;
    std::uint32_t session = id;
    if (p.revents & POLLOUT) write_client(session, c);
    auto again = clients_.find(session);  // writing may have ended it
    if (again != clients_.end() && (p.revents & (POLLIN | POLLHUP | POLLERR))) read_client(session, again->second);
    return true;
  }
  return false;
}

void ExecMux::read_port() {
  if (to_port_.congested()) return;  // its frames bring credit to return: wait for the guest to read
  bool would_block = false;
  std::string data = read_some_or_end(port_.get(), 1 << 16, would_block);
  if (would_block) return;
  if (data.empty()) {
    close_port();
    return;
  }
  decoder_.feed(data);
  for (;;) {
    std::optional<channel::Frame> frame;
    try {
      frame = decoder_.next();
    } catch (const Error& e) {
      // The frames' boundaries are lost: nothing more on this port can be trusted to be what it says.
      notice(std::string("the VM sent a malformed frame on the exec port (") + e.what() + "): exec sessions end");
      close_port();
      return;
    }
    if (!frame) return;
    if (frame->type == FrameType::ready) {  // the agent runs: clients may come
      if (!listener_) listen();
      continue;
    }
    if (frame->payload.size() < 4) {
      notice("the VM sent an exec frame of type " + std::to_string(int(frame->type)) + " without a session: dropped");
      continue;
    }
    from_guest(channel::split_session(std::move(*frame)));
  }
}

void ExecMux::listen() { listener_ = listen_unix(socket_path_, 64, /*nonblocking=*/true); }

// The VM is going down, or broke the protocol: clients without an exit status report their
// session as killed.
void ExecMux::close_port() {
  port_.reset();
  to_port_ = PortWriter(-1);
  listener_.reset();
  ::unlink(socket_path_.c_str());
  clients_.clear();
}

void ExecMux::from_guest(channel::SessionFrame frame) {
  if (frame.session == channel::kControlSession) {
    if (frame.type == FrameType::clock_probe) {
      // Answered at once, whatever else waits: the delay before this reading is the probe's error.
      if (auto probe = channel::parse_clock_probe(frame.payload))
        send(channel::encode_session(FrameType::clock_reading, channel::kControlSession,
                                     channel::clock_reading_payload({*probe, channel::realtime_ns()})));
      return;
    }
    // The agent could not apply a network change: its reason, as printable text of one bounded
    // line (it is the VM's word).
    if (frame.type == FrameType::error)
      notice("the VM could not apply a network change: " + console_summary(frame.payload, 1));
    else if (frame.type == FrameType::guest_notice)
      notice("the VM: " + console_summary(frame.payload, 8));  // its lines joined into one
    return;
  }
  auto it = clients_.find(frame.session);
  if (it == clients_.end()) {
    // Output for a client that left: credit it, so the guest drains the session until it ends.
    if (frame.type == FrameType::stdout_data || frame.type == FrameType::stderr_data)
      send(channel::encode_session_u32(FrameType::window, frame.session,
                                       static_cast<std::uint32_t>(frame.payload.size())));
    return;
  }
  Client& c = it->second;
  switch (frame.type) {
    case FrameType::stdout_data:
    case FrameType::stderr_data: {
      std::size_t size = frame.payload.size();
      c.output_in_flight += size;
      c.to_client.push(channel::encode(frame.type, frame.payload), size);
      break;
    }
    case FrameType::error:
      c.to_client.push(channel::encode(frame.type, frame.payload), 0);
      break;
    case FrameType::exit_status:
      c.to_client.push(channel::encode(frame.type, frame.payload), 0);
      c.finished = true;
      break;
    case FrameType::window:
      if (auto credit = channel::session_u32(frame)) c.stdin_window.credited(*credit);
      break;
    default:
      break;
  }
  if (c.output_in_flight > channel::kSessionWindow || c.to_client.pending().size() > kClientBacklogLimit) {
    notice("exec session " + std::to_string(frame.session) + ": the VM sent past the session's window: session closed");
    drop_client(frame.session, /*tell_guest=*/true);
    return;
  }
  write_client(frame.session, c);
}

void ExecMux::accept_clients() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN: all taken; anything else: that client will retry
    Client c;
    c.fd = UniqueFd(fd);
    clients_.emplace(next_id_++, std::move(c));
  }
}

void ExecMux::read_client(std::uint32_t id, Client& c) {
  if (to_port_.congested()) return;  // polled before the queue filled up in this round
  std::size_t limit = c.opened ? std::min(channel::kSessionChunk, c.stdin_window.available()) : channel::kSessionChunk;
  if (limit == 0) return;
  bool would_block = false;
  std::string data = read_some_or_end(c.fd.get(), limit, would_block);
  if (would_block) return;
  if (data.empty()) {
    drop_client(id, /*tell_guest=*/c.opened && !c.finished);
    return;
  }
  c.decoder.feed(data);
  try {
    while (auto frame = c.decoder.next()) {
      switch (frame->type) {
        case FrameType::exec_open:
          if (c.opened) break;
          c.opened = true;
          send(channel::encode_session(FrameType::exec_open, id, frame->payload));
          break;
        case FrameType::stdin_data:
          c.stdin_window.sent(frame->payload.size());
          [[fallthrough]];
        case FrameType::stdin_eof:
        case FrameType::signal:
        case FrameType::resize:
          if (c.opened) send(channel::encode_session(frame->type, id, frame->payload));
          break;
        default:
          break;
      }
    }
  } catch (const Error&) {  // a client that does not speak the protocol
    drop_client(id, c.opened && !c.finished);
  }
}

void ExecMux::write_client(std::uint32_t id, Client& c) {
  while (!c.to_client.empty()) {
    std::string_view pending = c.to_client.pending();
    ssize_t n = ::send(c.fd.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // the client went away
      drop_client(id, !c.finished);
      return;
    }
    if (std::size_t credit = c.to_client.consumed(static_cast<std::size_t>(n))) {
      c.output_in_flight -= std::min(credit, c.output_in_flight);
      send(channel::encode_session_u32(FrameType::window, id, static_cast<std::uint32_t>(credit)));
    }
  }
  if (c.finished) clients_.erase(id);
}

void ExecMux::drop_client(std::uint32_t id, bool tell_guest) {
  if (tell_guest) send(channel::encode_session(FrameType::exec_close, id));
  clients_.erase(id);
}

}  // namespace runcvm::container_init
