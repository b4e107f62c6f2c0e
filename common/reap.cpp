#include "common/reap.hpp"

#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace runcvm {

std::vector<ExitedChild> reap_children(int signal_fd) {
  signalfd_siginfo info{};
  while (::read(signal_fd, &info, sizeof info) == sizeof info) {
  }
  std::vector<ExitedChild> exited;
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) exited.push_back({pid, status});
  return exited;
}

std::optional<siginfo_t> peek_exit(pid_t child) {
  siginfo_t info{};
  if (child <= 0 || ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid != child)
    return std::nullopt;
  return info;
}

std::string describe_signal(int signal) {
  return "signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

std::string describe_wait_status(int wait_status) {
  if (WIFSIGNALED(wait_status)) return "was killed by " + describe_signal(WTERMSIG(wait_status));
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

}  // namespace runcvm
