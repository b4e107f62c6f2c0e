#include "container/runcvm-init/socket_relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/stream_relay.hpp"
#include "common/unix_socket.hpp"
#include "container/runcvm-init/held_files.hpp"
#include "container/runcvm-init/notice.hpp"
#include "handoff/launch.hpp"
#include "handoff/socket_relays.hpp"

namespace runcvm::container_init {
namespace {

UniqueFd listen_tcp(const std::string& address, unsigned port) {
  std::string what = address + ":" + std::to_string(port);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw system_error("creating the socket relay's listener on", what, errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &local.sin_addr) != 1)
    throw Error("socket relay: bad listen address " + quote(address));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 || ::listen(fd.get(), 64) != 0)
    throw system_error("listening for the VM's socket connections on", what, errno);
  return fd;
}

void carry(UniqueFd client, const std::string& held, std::shared_ptr<std::atomic<unsigned>> active) {
  UniqueFd server(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address = unix_address(held);
  if (server && ::connect(server.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0)
    relay_both_ways(client.get(), server.get());
  --*active;
}

// `socket` lives as long as the process: the thread is detached.
void serve(UniqueFd listener, std::shared_ptr<RelayedSocket> socket, std::shared_ptr<const VmPeers> peers,
           std::shared_ptr<std::atomic<unsigned>> active) {
  const std::string& path = socket->path;
  std::string held = held_path(socket->held.get());
  for (;;) {
    sockaddr_in peer{};
    socklen_t size = sizeof peer;
    UniqueFd client(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &size, SOCK_CLOEXEC));
    if (client && !peers->allowed(peer)) continue;  // closed: not the VM
    if (!client) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      notice("the socket relay for " + quote(path) + " stopped accepting: " + std::string(std::strerror(errno)));
      return;
    }
    if (++*active > kMaxRelayedConnections) {
      --*active;
      continue;  // closed: too many at once
    }
    std::thread(carry, std::move(client), held, active).detach();
  }
}

}  // namespace

void start_socket_relays(std::vector<RelayedSocket> sockets, const std::string& listen_address,
                         std::shared_ptr<const VmPeers> peers) {
  auto active = std::make_shared<std::atomic<unsigned>>(0);
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    UniqueFd listener = listen_tcp(listen_address, handoff::socket_relay_port(i));
    std::thread(serve, std::move(listener), std::make_shared<RelayedSocket>(std::move(sockets[i])), peers, active)
        .detach();
  }
}

}  // namespace runcvm::container_init
