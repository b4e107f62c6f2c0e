#include "guest/runcvm-init/exec_mux.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>

#include "common/error.hpp"

namespace runcvm::container_init {

using channel::FrameType;

ExecMux::ExecMux(UniqueFd port, std::string socket_path) : port_(std::move(port)), socket_path_(std::move(socket_path)) {
  ::unlink(socket_path_.c_str());  // left by an earlier start of this container
}

ExecMux::~ExecMux() {
  if (listener_) ::unlink(socket_path_.c_str());
}

void ExecMux::send(const std::string& frame) {
  if (port_) write_all(port_.get(), frame, "the exec port");
}

void ExecMux::add_poll_fds(std::vector<pollfd>& fds) const {
  if (port_) fds.push_back({port_.get(), POLLIN, 0});
  if (listener_) fds.push_back({listener_.get(), POLLIN, 0});
  for (const auto& [id, c] : clients_) {
    short events = 0;
    // A client's input is read only while its session may take more: the guest's window bounds
    // what waits in the VM for a process that does not read its stdin.
    if (!c.finished && (!c.opened || c.stdin_window.available() > 0)) events |= POLLIN;
    if (!c.to_client.empty()) events |= POLLOUT;
    if (events) fds.push_back({c.fd.get(), events, 0});
  }
}

bool ExecMux::handle(const pollfd& p) {
  if (!p.revents) return port_.get() == p.fd || listener_.get() == p.fd;
  if (port_ && p.fd == port_.get()) {
    read_port();
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
  bool would_block = false;
  std::string data = read_some(port_.get(), 1 << 16, would_block, "the exec port");
  if (would_block) return;
  if (data.empty()) {
    // The VM is going down: clients without an exit status report their session as killed.
    port_.reset();
    listener_.reset();
    ::unlink(socket_path_.c_str());
    clients_.clear();
    return;
  }
  decoder_.feed(data);
  while (auto frame = decoder_.next()) {
    if (frame->type == FrameType::ready) {  // the agent runs: clients may come
      std::string temporary = socket_path_ + ".tmp";
      UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::snprintf(address.sun_path, sizeof address.sun_path, "%s", temporary.c_str());
      ::unlink(temporary.c_str());
      if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
          ::listen(fd.get(), 64) != 0 || ::rename(temporary.c_str(), socket_path_.c_str()) != 0)
        throw system_error("listening on", socket_path_, errno);
      listener_ = std::move(fd);
      continue;
    }
    from_guest(channel::split_session(std::move(*frame)));
  }
}

void ExecMux::from_guest(channel::SessionFrame frame) {
  auto it = clients_.find(frame.session);
  if (it == clients_.end()) {
    // Output for a client that left: credit it, so the guest drains the session until it ends.
    if (frame.type == FrameType::stdout_data || frame.type == FrameType::stderr_data)
      send(channel::encode_session_u32(FrameType::window, frame.session, static_cast<std::uint32_t>(frame.payload.size())));
    return;
  }
  Client& c = it->second;
  switch (frame.type) {
    case FrameType::stdout_data:
    case FrameType::stderr_data: {
      std::size_t size = frame.payload.size();
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
  std::size_t limit = c.opened ? std::min(channel::kSessionChunk, c.stdin_window.available()) : channel::kSessionChunk;
  if (limit == 0) return;
  bool would_block = false;
  std::string data;
  try {
    data = read_some(c.fd.get(), limit, would_block, "an exec client");
  } catch (const Error&) {
    data.clear();  // ECONNRESET: as gone as end of file
  }
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
    if (std::size_t credit = c.to_client.consumed(static_cast<std::size_t>(n)))
      send(channel::encode_session_u32(FrameType::window, id, static_cast<std::uint32_t>(credit)));
  }
  if (c.finished) clients_.erase(id);
}

void ExecMux::drop_client(std::uint32_t id, bool tell_guest) {
  if (tell_guest) send(channel::encode_session(FrameType::exec_close, id));
  clients_.erase(id);
}

}  // namespace runcvm::container_init
