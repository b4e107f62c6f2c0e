// runcvm-init's DNS forwarder against a fake upstream on loopback: answers come back over UDP and
// TCP, and what the VM can send (floods of unanswered queries, idle connections past the bound)
// neither adds threads nor stops later queries from being answered.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "container/runcvm-init/dns_forwarder.hpp"

namespace runcvm::container_init {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in a{};
  socklen_t size = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
  return ntohs(a.sin_port);
}

std::uint16_t free_port() {
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in any = loopback(0);
  ::bind(udp.get(), reinterpret_cast<sockaddr*>(&any), sizeof any);
  return bound_port(udp.get());
}

// Answers "q…" with "a…" over UDP and TCP on one port; never answers "drop…"; answers "f…" and
// "n…" over UDP with a DNS header saying SERVFAIL and NXDOMAIN.
std::uint16_t start_fake_upstream() {
  // TCP first (port 0), then UDP on the same number, which is seldom taken; retried if it is.
  int tcp = -1, udp = -1;
  std::uint16_t port = 0;
  while (port == 0) {
    tcp = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in any = loopback(0);
    ::bind(tcp, reinterpret_cast<sockaddr*>(&any), sizeof any);
    ::listen(tcp, 256);
    std::uint16_t candidate = bound_port(tcp);
    udp = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in same = loopback(candidate);
    if (::bind(udp, reinterpret_cast<sockaddr*>(&same), sizeof same) == 0) {
      port = candidate;
    } else {
      ::close(tcp);
      ::close(udp);
    }
  }
  std::thread([udp] {
    char buffer[2048];
    for (;;) {
      sockaddr_in from{};
      socklen_t size = sizeof from;
      ssize_t n = ::recvfrom(udp, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &size);
      if (n > 0 && buffer[0] == 'q') {
        buffer[0] = 'a';
        ::sendto(udp, buffer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), size);
      } else if (n > 0 && (buffer[0] == 'f' || buffer[0] == 'n')) {
        // Response, recursion desired and available; rcode 2 (SERVFAIL) or 3 (NXDOMAIN).
        const char header[12] = {buffer[0], 'x', '\x81', buffer[0] == 'f' ? '\x82' : '\x83', 0, 0, 0, 0, 0, 0, 0, 0};
        ::sendto(udp, header, sizeof header, 0, reinterpret_cast<sockaddr*>(&from), size);
      }
    }
  }).detach();
  std::thread([tcp] {
    for (;;) {
      int client = ::accept(tcp, nullptr, nullptr);
      std::thread([client] {
        char buffer[2048];
        ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n > 0 && buffer[0] == 'q') {
          buffer[0] = 'a';
          ::send(client, buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
        }
        ::close(client);
      }).detach();
    }
  }).detach();
  return port;
}

std::string udp_ask(std::uint16_t port, const std::string& query, int timeout_ms) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in to = loopback(port);
  ::sendto(fd.get(), query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return "";
  char buffer[2048];
  ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

UniqueFd tcp_connect(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in to = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return UniqueFd();
  return fd;
}

std::string tcp_ask(std::uint16_t port, const std::string& query, int timeout_ms) {
  UniqueFd fd = tcp_connect(port);
  if (!fd) return "";
  ::send(fd.get(), query.data(), query.size(), MSG_NOSIGNAL);
  ::shutdown(fd.get(), SHUT_WR);  // as busybox nc does once its query is out
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return "";
  char buffer[2048];
  ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

// A forwarder on 127.0.0.1 in front of a fake upstream, with `settings`' other fields; its port, 0
// when none could be had. A port free for UDP may be taken for TCP (an outgoing connection's): a
// few are tried.
std::uint16_t start_forwarder(DnsForwarderSettings settings) {
  settings.listen_address = settings.upstream_address = "127.0.0.1";
  settings.upstream_port = start_fake_upstream();
  for (int attempt = 0; attempt < 20; ++attempt) {
    settings.listen_port = free_port();
    try {
      start_dns_forwarder(settings);
      return settings.listen_port;
    } catch (const Error&) {
    }
  }
  return 0;
}

std::size_t thread_count() {
  std::size_t n = 0;
  DIR* dir = ::opendir("/proc/self/task");
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n;
}

TEST_CASE("the DNS forwarder relays, and floods neither add threads nor block it", "[guest][dns]") {
  std::uint16_t port = start_forwarder({.listen_address = "127.0.0.1",
                                        .udp_timeout = std::chrono::milliseconds(200),
                                        .tcp_idle = std::chrono::milliseconds(300)});
  REQUIRE(port != 0);
  CHECK(udp_ask(port, "q-udp", 2000) == "a-udp");
  CHECK(tcp_ask(port, "q-tcp", 2000) == "a-tcp");
  // Docker's SERVFAIL for a name it cannot forward is not passed on (the VM's resolver asks its next
  // server); other answers are, NXDOMAIN included.
  CHECK(udp_ask(port, "f-servfail", 500).empty());
  CHECK(udp_ask(port, "n-nxdomain", 2000).size() == 12);

  // 5000 queries the upstream never answers: held at most kMaxUdpQueries at a time, no thread each.
  std::size_t threads = thread_count();
  UniqueFd flood(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in to = loopback(port);
  for (int i = 0; i < 5000; ++i) ::sendto(flood.get(), "drop", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // time to have started a thread a query, were it so
  CHECK(thread_count() <= threads);
  std::string answer;
  for (int i = 0; i < 20 && answer.empty(); ++i) answer = udp_ask(port, "q-after-flood", 250);
  CHECK(answer == "a-after-flood");

  // More idle connections than the forwarder keeps: it serves kMaxTcpRelays, the rest wait in the
  // backlog, and once the idle ones time out a real query is answered.
  std::vector<UniqueFd> idle;
  for (std::size_t i = 0; i < kMaxTcpRelays + 20; ++i) idle.push_back(tcp_connect(port));
  CHECK(tcp_ask(port, "q-after-idle", 5000) == "a-after-idle");
}

TEST_CASE("the DNS forwarder answers the VM's addresses only", "[guest][dns]") {
  auto peers = std::make_shared<VmPeers>();
  peers->allow("127.0.0.2/16");
  std::uint16_t port = start_forwarder({.listen_address = "127.0.0.1", .peers = peers});
  REQUIRE(port != 0);
  // From 127.0.0.1, a neighbour's address here: neither UDP nor TCP gets an answer.
  CHECK(udp_ask(port, "q-neighbour", 300).empty());
  CHECK(tcp_ask(port, "q-neighbour", 300).empty());
  // From the VM's address: answered.
  UniqueFd vm(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in from = loopback(0);
  from.sin_addr.s_addr = htonl(0x7f000002);
  REQUIRE(::bind(vm.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  sockaddr_in to = loopback(port);
  ::sendto(vm.get(), "q-vm", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{vm.get(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  char buffer[16];
  CHECK(std::string(buffer, static_cast<size_t>(::recv(vm.get(), buffer, sizeof buffer, 0))) == "a-vm");
  peers->forget("127.0.0.2");
  CHECK_FALSE(peers->allowed(from));
}

}  // namespace
}  // namespace runcvm::container_init
