#include "vm/vm-init/port_relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace runcvm::vm_init {
namespace {

// Copies both ways until either side closes; a half-close is passed on.
void relay(int a, int b) {
  bool a_open = true, b_open = true;
  char buffer[65536];
  while (a_open || b_open) {
    pollfd fds[2] = {{a_open ? a : -1, POLLIN, 0}, {b_open ? b : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = i == 0 ? a : b, to = i == 0 ? b : a;
      ssize_t n = ::read(from, buffer, sizeof buffer);
      if (n <= 0) {
        ::shutdown(to, SHUT_WR);
        (i == 0 ? a_open : b_open) = false;
        continue;
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(to, buffer + done, static_cast<size_t>(n - done));
        if (w <= 0) return;
        done += w;
      }
    }
  }
}

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

[[noreturn]] void serve(int listener, unsigned port, const std::string& target_address) {
  ::signal(SIGCHLD, SIG_IGN);  // connection processes are reaped by the kernel
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, target_address.c_str(), &target.sin_addr);
  for (;;) {
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    if (::fork() == 0) {
      ::close(listener);
      int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (server >= 0 && ::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) == 0)
        relay(client, server);
      ::_exit(0);
    }
    ::close(client);
  }
}

}  // namespace

void start_port_relay(unsigned port, const std::string& target_address, const std::vector<int>& inherited) {
  // Listening before the fork: a bind failure is the caller's error, reported like any other.
  UniqueFd listener = listen_on(port);
  pid_t pid = ::fork();
  if (pid < 0) throw system_error("starting the relay of port", std::to_string(port), errno);
  if (pid == 0) {
    for (int fd : inherited) ::close(fd);
    serve(listener.get(), port, target_address);
  }
}

}  // namespace runcvm::vm_init
