#include "container/runcvm-init/guest_ready.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common/error.hpp"
#include "common/reap.hpp"
#include "container/runcvm-init/helper_exits.hpp"

namespace runcvm::container_init {

bool is_crash_signal(int signal) {
  return signal == SIGSEGV || signal == SIGBUS || signal == SIGILL || signal == SIGABRT || signal == SIGFPE;
}

namespace {

// Helpers ending are looked for every 50 ms rather than through SIGCHLD, which runcvm-init's
// signal descriptor holds for the supervisor and which may be left from helpers of an earlier try.
constexpr int kSliceMs = 50;

ReadyOutcome qemu_exit(const siginfo_t& info) {
  bool killed = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  return {.how = ReadyWait::qemu_exited,
          .qemu_crashed = killed && is_crash_signal(info.si_status),
          .qemu_signal = killed ? info.si_status : 0};
}

}  // namespace

UniqueFd accept_from_qemu(int listener, const char* path, pid_t qemu, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (pollfd p{listener, POLLIN, 0}; ::poll(&p, 1, kSliceMs) <= 0;) {
    if (auto info = peek_exit(qemu))
      throw Error(std::string("QEMU ended before it connected to ") + path +
                  (info->si_code == CLD_EXITED ? " (exit status " + std::to_string(info->si_status) + ")"
                                               : " (" + describe_signal(info->si_status) + ")"));
    if (std::chrono::steady_clock::now() > deadline)
      throw Error(std::string("QEMU did not connect to ") + path + " within " + std::to_string(limit.count()) + " ms");
  }
  UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) throw system_error("accepting", path, errno);
  return fd;
}

ReadyOutcome wait_for_guest_ready(int channel, pid_t qemu, pid_t virtiofsd, std::chrono::milliseconds limit) {
  // Other signals (docker stop, a terminal's resize) wait in that descriptor too: the supervisor
  // relays them to the guest, which reads them only once it has spoken.
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool channel_open = true;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{channel, POLLIN, 0};
    if (channel_open && ::poll(&p, 1, kSliceMs) > 0) {
      char byte;
      if (::recv(channel, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return {.how = ReadyWait::spoke};
      channel_open = false;  // QEMU closed it: it is ending
    } else if (!channel_open) {
      ::poll(nullptr, 0, kSliceMs);
    }
    if (auto info = peek_exit(qemu)) return qemu_exit(*info);
    if (peek_exit(virtiofsd)) {
      // QEMU's crash, seen a moment later (helper_exits.hpp), is the cause, and what decides
      // whether to start again.
      for (auto grace = std::chrono::steady_clock::now() + kVirtiofsdFollowsQemu;
           std::chrono::steady_clock::now() < grace;) {
        if (auto info = peek_exit(qemu)) return qemu_exit(*info);
        ::poll(nullptr, 0, kSliceMs);
      }
      return {.how = ReadyWait::interrupted};
    }
  }
  return {.how = ReadyWait::timed_out};
}

}  // namespace runcvm::container_init
