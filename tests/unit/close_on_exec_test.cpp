// runcvm-init's sweep of the descriptors a helper must not inherit (close_on_exec.hpp), run in a
// forked child of the test so its descriptors and seccomp filter stay there. A kernel without
// close_range(CLOSE_RANGE_CLOEXEC) is played by a seccomp filter that fails the call.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cerrno>
#include <cstddef>

#include "container/runcvm-init/close_on_exec.hpp"

namespace {

using runcvm::container_init::mark_close_on_exec_except;

// Makes close_range fail with `error` in this process from now on, as an older kernel (ENOSYS,
// EINVAL) or an older seccomp profile (EPERM) would.
bool refuse_close_range(int error) {
  std::array<sock_filter, 4> program{{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(error) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  }};
  sock_fprog filter{static_cast<unsigned short>(program.size()), program.data()};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) == 0;
}

bool close_on_exec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// In a child: descriptors 20, 21 (kept, opened close-on-exec) and 22, and one just under a
// lowered soft limit of 256, all on /dev/null; then the sweep from 3 on. The exit status names
// the first thing that did not hold (0: all did).
int sweep_in_child(int close_range_error) {
  pid_t pid = ::fork();
  if (pid == 0) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = 256;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(10);
    int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 20) != 20 || ::dup3(null, 21, O_CLOEXEC) != 21 || ::dup2(null, 22) != 22 ||
        ::dup2(null, 255) != 255)
      ::_exit(11);
    if (close_range_error != 0) {
      if (!refuse_close_range(close_range_error)) ::_exit(12);
      if (::syscall(SYS_close_range, 300u, 301u, 4u) == 0 || errno != close_range_error) ::_exit(13);
    }
    const std::array<int, 1> keep{21};
    if (mark_close_on_exec_except(3, keep) != 0) ::_exit(14);
    if (!close_on_exec(null) || !close_on_exec(20) || !close_on_exec(22) || !close_on_exec(255)) ::_exit(15);
    if (close_on_exec(21)) ::_exit(16);
    if (close_on_exec(0) || close_on_exec(1) || close_on_exec(2)) ::_exit(17);  // below `first`: untouched
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("a helper inherits only the descriptors it is given, with close_range or without it", "[container][spawn]") {
  int close_range_error = GENERATE(0, ENOSYS, EINVAL, EPERM);
  CAPTURE(close_range_error);
  CHECK(sweep_in_child(close_range_error) == 0);
}

TEST_CASE("a descriptor the helper should inherit but that is not open fails the sweep", "[container][spawn]") {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(40);
    const std::array<int, 1> keep{40};
    ::_exit(mark_close_on_exec_except(3, keep) == EBADF ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
