#include "vm/vm-init/port_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"
#include "common/stream_relay.hpp"
#include "common/unix_socket.hpp"
#include "handoff/socket_relays.hpp"

namespace runcvm::vm_init {
namespace {

// Where the VM's listening sockets live before they are bound over their paths.
constexpr const char* kSocketDirectory = "/run/runcvm-sockets";

UniqueFd listen_on(unsigned port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw system_error("creating a socket for port", std::to_string(port), errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd.get(), 16) != 0)
    throw system_error("listening on the VM's port", std::to_string(port), errno);
  return fd;
}

sockaddr_in tcp_address(const std::string& address, unsigned port) {
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &target.sin_addr);
  return target;
}

[[noreturn]] void serve(int listener, const sockaddr_in& target) {
  ::signal(SIGCHLD, SIG_IGN);  // connection processes are reaped by the kernel
  for (;;) {
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    if (::fork() == 0) {
      ::close(listener);
      int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (server >= 0 && ::connect(server, reinterpret_cast<const sockaddr*>(&target), sizeof target) == 0)
        relay_both_ways(client, server);
      ::_exit(0);
    }
    ::close(client);
  }
}

// Listening before the fork: a failure is the caller's error, reported like any other.
void fork_server(UniqueFd listener, const sockaddr_in& target, const std::vector<int>& inherited,
                 const std::string& what) {
  pid_t pid = ::fork();
  if (pid < 0) throw system_error("starting the relay of", what, errno);
  if (pid == 0) {
    for (int fd : inherited) ::close(fd);
    serve(listener.get(), target);
  }
}

}  // namespace

void start_port_relay(unsigned port, const std::string& target_address, const std::vector<int>& inherited) {
  fork_server(listen_on(port), tcp_address(target_address, port), inherited, "port " + std::to_string(port));
}

std::vector<SocketRelay> plan_socket_relays(const handoff::Launch& launch) {
  std::vector<SocketRelay> relays;
  for (std::size_t i = 0; i < launch.sockets.size(); ++i) {
    SocketRelay relay;
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(launch.sockets[i], ec);
    relay.path = ec ? launch.sockets[i] : resolved.string();
    relay.target_port = handoff::socket_relay_port(i);
    struct stat original {};
    if (::stat(relay.path.c_str(), &original) == 0) {
      relay.uid = original.st_uid;
      relay.gid = original.st_gid;
      relay.mode = original.st_mode & 07777;
    }
    relays.push_back(relay);
  }
  return relays;
}

void start_socket_relay(const SocketRelay& relay, const std::string& target_address,
                        const std::vector<int>& inherited) {
  make_directories(kSocketDirectory);
  ::chmod(kSocketDirectory, 0700);
  std::string listening = std::string(kSocketDirectory) + "/" + std::to_string(relay.target_port);
  UniqueFd listener = listen_unix(listening, 64);
  if (::chown(listening.c_str(), relay.uid, relay.gid) != 0 || ::chmod(listening.c_str(), relay.mode) != 0)
    throw system_error("giving the VM's socket the owner and mode of", relay.path, errno);
  struct stat there {};
  if (::stat(relay.path.c_str(), &there) != 0) {  // below a mount of the VM's own (/run)
    make_directories(fs::path(relay.path).parent_path());
    UniqueFd target(::open(relay.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!target) throw system_error("making the mount point of the socket", relay.path, errno);
  }
  if (::mount(listening.c_str(), relay.path.c_str(), nullptr, MS_BIND, nullptr) != 0)
    throw system_error("putting the VM's socket at", relay.path, errno);
  fork_server(std::move(listener), tcp_address(target_address, relay.target_port), inherited, "socket " + relay.path);
}

}  // namespace runcvm::vm_init
