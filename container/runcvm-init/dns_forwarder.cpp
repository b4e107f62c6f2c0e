#include "container/runcvm-init/dns_forwarder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <list>
#include <memory>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace runcvm::container_init {
namespace {

// Docker's embedded DNS answers SERVFAIL for a name it must ask the host's servers about when it
// cannot reach them from the container's namespace: runcvm-init took the namespace's addresses
// and routes into the VM (Docker 26 answers so; 20.10 stays silent). Passed on, that answer ends
// the VM's lookup; dropped, the VM's resolver asks its next nameserver, the same host servers
// reached from the VM (resolv_conf_for_vm lists them), and gets the real answer.
bool is_server_failure(const char* reply, std::size_t size) {
  constexpr unsigned char kResponse = 0x80, kRcodeMask = 0x0F, kServerFailure = 2;
  return size >= 12 && (static_cast<unsigned char>(reply[2]) & kResponse) != 0 &&
         (static_cast<unsigned char>(reply[3]) & kRcodeMask) == kServerFailure;
}

using Clock = std::chrono::steady_clock;

sockaddr_in ipv4(const std::string& address, std::uint16_t port) {
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &out.sin_addr);
  return out;
}

UniqueFd bound_socket(int type, const sockaddr_in& local, const std::string& what) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int on = 1;
  if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (!fd || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
    throw system_error("listening for DNS on", what, errno);
  return fd;
}

struct UdpQuery {  // one query, on a socket of its own so that answers cannot cross
  UniqueFd upstream;
  sockaddr_in client{};
  Clock::time_point deadline;
};

struct TcpRelay {  // one connection, relayed both ways
  UniqueFd client;
  UniqueFd upstream;
  bool client_open = true;  // a client may close its sending side once its query is out (busybox nc does)
  Clock::time_point deadline;
};

class Forwarder {
 public:
  Forwarder(DnsForwarderSettings settings, UniqueFd udp, UniqueFd tcp)
      : settings_(std::move(settings)),
        udp_(std::move(udp)),
        tcp_(std::move(tcp)),
        upstream_(ipv4(settings_.upstream_address, settings_.upstream_port)) {}

  [[noreturn]] void run() {
    for (;;) {
      std::vector<pollfd> fds = {{udp_.get(), POLLIN, 0}};
      bool accepting = relays_.size() < kMaxTcpRelays && Clock::now() >= accept_paused_until_;
      fds.push_back({accepting ? tcp_.get() : -1, POLLIN, 0});
      for (const auto& q : queries_) fds.push_back({q.upstream.get(), POLLIN, 0});
      for (const auto& r : relays_) {
        fds.push_back({r.client_open ? r.client.get() : -1, POLLIN, 0});
        fds.push_back({r.upstream.get(), POLLIN, 0});
      }
      // With queries or connections under way, wakes to expire their deadlines, and to resume
      // accepting after a pause; with none, sleeps until a client comes (an idle VM costs nothing).
      bool idle = queries_.empty() && relays_.empty() && accepting;
      ::poll(fds.data(), fds.size(), idle ? -1 : 100);
      std::size_t at = 2;
      for (auto q = queries_.begin(); q != queries_.end(); ++at)
        q = (fds[at].revents || Clock::now() > q->deadline) ? answer(q, fds[at].revents != 0) : std::next(q);
      for (auto r = relays_.begin(); r != relays_.end(); at += 2)
        r = relay(*r, fds[at].revents, fds[at + 1].revents) && Clock::now() <= r->deadline ? std::next(r)
                                                                                           : relays_.erase(r);
      if (fds[0].revents) receive_queries();
      if (fds[1].revents) accept_connections();
    }
  }

 private:
  void receive_queries() {
    char query[65536];
    for (int i = 0; i < 64; ++i) {  // a burst, then the others get their turn
      sockaddr_in client{};
      socklen_t size = sizeof client;
      ssize_t n = ::recvfrom(udp_.get(), query, sizeof query, 0, reinterpret_cast<sockaddr*>(&client), &size);
      if (n < 0) return;
      if (queries_.size() >= kMaxUdpQueries || n == 0) continue;  // dropped: the resolver asks again
      if (settings_.peers && !settings_.peers->allowed(client)) continue;
      UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&upstream_), sizeof upstream_) != 0 ||
          ::send(fd.get(), query, static_cast<size_t>(n), 0) < 0)
        continue;
      queries_.push_back({std::move(fd), client, Clock::now() + settings_.udp_timeout});
    }
  }

  std::list<UdpQuery>::iterator answer(std::list<UdpQuery>::iterator q, bool readable) {
    if (readable) {
      char reply[65536];
      ssize_t n = ::recv(q->upstream.get(), reply, sizeof reply, 0);
      if (n > 0 && !is_server_failure(reply, static_cast<size_t>(n)))
        ::sendto(udp_.get(), reply, static_cast<size_t>(n), 0, reinterpret_cast<const sockaddr*>(&q->client),
                 sizeof q->client);
    }
    return queries_.erase(q);
  }

  void accept_connections() {
    while (relays_.size() < kMaxTcpRelays) {
      sockaddr_in peer{};
      socklen_t size = sizeof peer;
      UniqueFd client(::accept4(tcp_.get(), reinterpret_cast<sockaddr*>(&peer), &size, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (client && settings_.peers && !settings_.peers->allowed(peer)) continue;  // closed: not the VM
      if (!client) {
        // Out of descriptors: the connection stays queued; try again in a while, not in a spin.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
          accept_paused_until_ = Clock::now() + std::chrono::milliseconds(100);
        return;
      }
      UniqueFd server(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      // A blocking connect to a local address: Docker's DNS is in this network namespace.
      if (!server || ::connect(server.get(), reinterpret_cast<const sockaddr*>(&upstream_), sizeof upstream_) != 0)
        continue;
      relays_.push_back({std::move(client), std::move(server), true, Clock::now() + settings_.tcp_idle});
    }
  }

  // False when the relay is finished.
  bool relay(TcpRelay& r, short client_events, short upstream_events) {
    char buffer[65536];
    if (client_events) {
      ssize_t n = ::recv(r.client.get(), buffer, sizeof buffer, 0);
      if (n < 0 && errno == EAGAIN) {
        // a spurious wake-up: nothing to relay from the client this time
      } else if (n <= 0) {
        r.client_open = false;
        ::shutdown(r.upstream.get(), SHUT_WR);
      } else if (!send_whole(r.upstream.get(), buffer, static_cast<size_t>(n))) {
        return false;
      }
      r.deadline = Clock::now() + settings_.tcp_idle;
    }
    if (upstream_events) {
      ssize_t n = ::recv(r.upstream.get(), buffer, sizeof buffer, 0);
      if (n <= 0) return false;  // the server is done: so is the client's connection
      if (!send_whole(r.client.get(), buffer, static_cast<size_t>(n))) return false;
      r.deadline = Clock::now() + settings_.tcp_idle;
    }
    return true;
  }

  // A DNS answer is at most 64 KiB: waiting briefly for a slow reader is bounded by it; a reader
  // that takes no data for a second loses its connection.
  static bool send_whole(int fd, const char* data, size_t size) {
    while (size > 0) {
      ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 1000) <= 0) return false;
        continue;
      }
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  DnsForwarderSettings settings_;
  UniqueFd udp_, tcp_;
  sockaddr_in upstream_;
  std::list<UdpQuery> queries_;
  std::list<TcpRelay> relays_;
  Clock::time_point accept_paused_until_{};
};

}  // namespace

void start_dns_forwarder(const DnsForwarderSettings& settings) {
  sockaddr_in local = ipv4(settings.listen_address, settings.listen_port);
  std::string what = settings.listen_address + ":" + std::to_string(settings.listen_port);
  UniqueFd udp = bound_socket(SOCK_DGRAM, local, what);
  UniqueFd tcp = bound_socket(SOCK_STREAM, local, what);
  if (::listen(tcp.get(), 64) != 0) throw system_error("listening for DNS over TCP on", what, errno);
  auto forwarder = std::make_shared<Forwarder>(settings, std::move(udp), std::move(tcp));
  std::thread([forwarder] { forwarder->run(); }).detach();
}

}  // namespace runcvm::container_init
