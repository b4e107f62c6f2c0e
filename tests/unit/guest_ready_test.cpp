// runcvm-init's wait for the guest's first frame, which decides whether a VM may be started again:
// against real child processes and a socketpair standing in for QEMU's end of the channel.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>

#include <chrono>

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
