// A hostile guest and real clients around runcvm-init's ExecMux, for the unit tests and the fuzz
// target: the exec port is one end of a socketpair (the test plays the VM on the other end), the
// clients connect to the listening socket as runcvm-exec does, and step() runs one non-blocking
// round of runcvm-init's poll loop.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "container/runcvm-init/exec_mux.hpp"

namespace runcvm::test {

class ExecMuxRig {
 public:
  ExecMuxRig() {
    char name[] = "/tmp/runcvm-exec-mux-XXXXXX";
    if (!::mkdtemp(name)) std::abort();
    directory_ = name;
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, ends) != 0) std::abort();
    guest_ = UniqueFd(ends[1]);
    mux_ = std::make_unique<container_init::ExecMux>(UniqueFd(ends[0]), socket_path());
  }
  ~ExecMuxRig() {
    clients_.clear();
    mux_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  ExecMuxRig(const ExecMuxRig&) = delete;
  ExecMuxRig& operator=(const ExecMuxRig&) = delete;

  container_init::ExecMux& mux() { return *mux_; }
  std::string socket_path() const { return directory_ + "/exec.sock"; }

  // Writes what the port takes now; returns how much that was.
  std::size_t guest_sends(std::string_view bytes) {
    ssize_t n = ::send(guest_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  std::string guest_receives() { return drain(guest_.get()); }
  void guest_hangs_up() { guest_.reset(); }

  // A client connection (index into the rig's clients), or -1 while nobody listens.
  int connect_client() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path().c_str());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return -1;
    clients_.push_back(std::move(fd));
    return static_cast<int>(clients_.size() - 1);
  }
  std::size_t client_sends(int client, std::string_view bytes) {
    ssize_t n = ::send(clients_.at(client).get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  // What reached the client, and whether runcvm-init closed its end.
  std::string client_receives(int client, bool* closed = nullptr) { return drain(clients_.at(client).get(), closed); }
  void client_hangs_up(int client) { clients_.at(client).reset(); }
  std::size_t clients() const { return clients_.size(); }

  // One round of runcvm-init's loop, without waiting.
  void step(int rounds = 1) {
    for (int i = 0; i < rounds; ++i) {
      std::vector<pollfd> fds;
      mux_->add_poll_fds(fds);
      if (fds.empty()) return;
      ::poll(fds.data(), fds.size(), 0);
      for (const auto& p : fds) mux_->handle(p);
    }
  }

 private:
  static std::string drain(int fd, bool* closed = nullptr) {
    std::string all;
    char buffer[65536];
    if (closed) *closed = false;
    for (;;) {
      ssize_t n = fd < 0 ? 0 : ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) {
        all.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 && closed) *closed = true;
      return all;
    }
  }

  std::string directory_;
  UniqueFd guest_;
  std::unique_ptr<container_init::ExecMux> mux_;
  std::vector<UniqueFd> clients_;
};

}  // namespace runcvm::test
