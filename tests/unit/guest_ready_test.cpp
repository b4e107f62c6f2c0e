// runcvm-init's wait for the guest's first frame, which decides whether a VM may be started again:
// against real child processes and a socketpair standing in for QEMU's end of the channel.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <chrono>

#include "common/unix_socket.hpp"
#include "container/runcvm-init/guest_ready.hpp"

namespace runcvm {
namespace {

using container_init::ReadyWait;
using container_init::wait_for_guest_ready;
using namespace std::chrono_literals;

// A child that runs `body` and never returns from it.
template <typename Body>
pid_t child_running(Body body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  REQUIRE(pid > 0);
  return pid;
}

struct Channel {
  int ends[2] = {-1, -1};
  Channel() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0); }
  ~Channel() {
    for (int fd : ends)
      if (fd >= 0) ::close(fd);
  }
};

void reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST_CASE("the guest's first frame ends the wait and stays unread", "[guest_ready]") {
  Channel channel;
  pid_t qemu = child_running([] { ::pause(); });
  REQUIRE(::write(channel.ends[1], "R", 1) == 1);
  auto outcome = wait_for_guest_ready(channel.ends[0], qemu, -1, 5s);
  CHECK(outcome.how == ReadyWait::spoke);
  char byte = 0;
  CHECK(::recv(channel.ends[0], &byte, 1, MSG_DONTWAIT) == 1);
  CHECK(byte == 'R');
  reap(qemu);
}

TEST_CASE("QEMU crashing before the guest speaks is told apart from QEMU exiting or being killed", "[guest_ready]") {
  Channel channel;
  SECTION("a segfault is a crash, and the child is left to be reaped") {
    pid_t qemu = child_running([] {
      ::signal(SIGSEGV, SIG_DFL);  // not the test framework's handler
      ::raise(SIGSEGV);
    });
    auto outcome = wait_for_guest_ready(channel.ends[0], qemu, -1, 5s);
    CHECK(outcome.how == ReadyWait::qemu_exited);
    CHECK(outcome.qemu_crashed);
    CHECK(outcome.qemu_signal == SIGSEGV);
    int status = 0;
    REQUIRE(::waitpid(qemu, &status, 0) == qemu);
    CHECK(WTERMSIG(status) == SIGSEGV);
  }
  SECTION("SIGKILL (the OOM killer, docker kill) is not a crash") {
    pid_t qemu = child_running([] { ::raise(SIGKILL); });
    auto outcome = wait_for_guest_ready(channel.ends[0], qemu, -1, 5s);
    CHECK(outcome.how == ReadyWait::qemu_exited);
    CHECK_FALSE(outcome.qemu_crashed);
    CHECK(outcome.qemu_signal == SIGKILL);
    ::waitpid(qemu, nullptr, 0);
  }
  SECTION("an exit status is not a crash, even with the channel closed first") {
    ::close(channel.ends[1]);
    channel.ends[1] = -1;
    pid_t qemu = child_running([] {
      ::usleep(100'000);
      ::_exit(1);
    });
    auto outcome = wait_for_guest_ready(channel.ends[0], qemu, -1, 5s);
    CHECK(outcome.how == ReadyWait::qemu_exited);
    CHECK_FALSE(outcome.qemu_crashed);
    ::waitpid(qemu, nullptr, 0);
  }
}

TEST_CASE("virtiofsd ending interrupts the wait; a pending signal does not; silence times out", "[guest_ready]") {
  Channel channel;
  pid_t qemu = child_running([] { ::pause(); });
  SECTION("virtiofsd ended") {
    pid_t virtiofsd = child_running([] { ::_exit(0); });
    CHECK(wait_for_guest_ready(channel.ends[0], qemu, virtiofsd, 5s).how == ReadyWait::interrupted);
    ::waitpid(virtiofsd, nullptr, 0);
  }
  // virtiofsd ends by itself once QEMU's end of its socket closes, which may be seen before QEMU's
  // own exit is: the crash, 100 ms later (within kVirtiofsdFollowsQemu), is what the wait reports.
  SECTION("virtiofsd ended because QEMU crashed, whose exit shows a moment later") {
    pid_t crashing = child_running([] {
      ::signal(SIGSEGV, SIG_DFL);
      ::usleep(100'000);
      ::raise(SIGSEGV);
    });
    pid_t virtiofsd = child_running([] { ::_exit(0); });
    siginfo_t ended{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(virtiofsd), &ended, WEXITED | WNOWAIT) == 0);
    auto outcome = wait_for_guest_ready(channel.ends[0], crashing, virtiofsd, 5s);
    CHECK(outcome.how == ReadyWait::qemu_exited);
    CHECK(outcome.qemu_crashed);
    ::waitpid(crashing, nullptr, 0);
    ::waitpid(virtiofsd, nullptr, 0);
  }
  // The supervisor relays it once the guest has spoken; ending the wait for it would skip the
  // KVM fallback and the crash retry.
  SECTION("SIGTERM or SIGWINCH pending (docker stop, a resize while the VM boots)") {
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGWINCH);
    REQUIRE(::sigprocmask(SIG_BLOCK, &term, &old) == 0);
    ::raise(SIGTERM);
    ::raise(SIGWINCH);
    CHECK(wait_for_guest_ready(channel.ends[0], qemu, -1, 200ms).how == ReadyWait::timed_out);
    siginfo_t info{};
    timespec none{};
    for (int i = 0; i < 2; ++i) REQUIRE(::sigtimedwait(&term, &info, &none) > 0);  // consumed before unblocking
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
  }
  SECTION("nothing happens") {
    auto start = std::chrono::steady_clock::now();
    CHECK(wait_for_guest_ready(channel.ends[0], qemu, -1, 200ms).how == ReadyWait::timed_out);
    CHECK(std::chrono::steady_clock::now() - start >= 200ms);
  }
  reap(qemu);
}

}  // namespace
}  // namespace runcvm

namespace runcvm {
namespace {

using Catch::Matchers::ContainsSubstring;
using container_init::accept_from_qemu;
using namespace std::chrono_literals;

TEST_CASE("QEMU ending before it connects is not waited for", "[guest_ready]") {
  char directory[] = "/tmp/runcvm-accept.XXXXXX";
  REQUIRE(::mkdtemp(directory) != nullptr);
  std::string path = std::string(directory) + "/channel.sock";
  UniqueFd listener = listen_unix(path, 1);
  SECTION("a QEMU that refused its command line: at once, with its status, left unreaped") {
    pid_t qemu = ::fork();
    if (qemu == 0) ::_exit(1);
    auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(accept_from_qemu(listener.get(), path.c_str(), qemu, 10s),
                      ContainsSubstring("QEMU ended before it connected to") && ContainsSubstring("(exit status 1)"));
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    int status = 0;
    CHECK(::waitpid(qemu, &status, 0) == qemu);
    CHECK(WEXITSTATUS(status) == 1);
  }
  SECTION("a QEMU that connects") {
    pid_t qemu = ::fork();
    if (qemu == 0) {
      sockaddr_un address = unix_address(path);
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      ::pause();
      ::_exit(0);
    }
    CHECK(accept_from_qemu(listener.get(), path.c_str(), qemu, 10s));
    ::kill(qemu, SIGKILL);
    ::waitpid(qemu, nullptr, 0);
  }
  SECTION("a QEMU that runs but never connects: the limit") {
    pid_t qemu = ::fork();
    if (qemu == 0) {
      ::pause();
      ::_exit(0);
    }
    CHECK_THROWS_WITH(accept_from_qemu(listener.get(), path.c_str(), qemu, 200ms),
                      ContainsSubstring("QEMU did not connect to"));
    ::kill(qemu, SIGKILL);
    ::waitpid(qemu, nullptr, 0);
  }
  ::unlink(path.c_str());
  ::rmdir(directory);
}

}  // namespace
}  // namespace runcvm
