#include "common/reap.hpp"

#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

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

}  // namespace runcvm
