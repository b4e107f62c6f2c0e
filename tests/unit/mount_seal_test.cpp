// The seccomp filter that ends runcvm-init's mounts once the helpers' root is built
// (mount_seal.hpp), attacked in a forked child (which, as root, may mount before it): every ABI's
// mount calls, from the sealing thread and from one that existed before; other calls still work.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>

#include "container/runcvm-init/mount_seal.hpp"

namespace {

using runcvm::container_init::seal_mounts;

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool refused(long result) { return result == -1 && errno == EPERM; }

#if defined(__x86_64__)
// mount(2) through int 0x80 with i386's number. Where the kernel has no i386 ABI (no
// IA32_EMULATION, or ia32_emulation=0) the instruction faults: SIGSEGV, which is as good.
int i386_mount_in_grandchild() {
  pid_t pid = ::fork();
  if (pid == 0) {
    // SIGSEGV's default action, through the raw call: a sanitizer's handler would turn the fault
    // into an exit status of its own.
    struct {
      void* handler = nullptr;  // SIG_DFL
      unsigned long flags = 0;
      void* restorer = nullptr;
      unsigned long mask = 0;
    } default_action;
    ::syscall(SYS_rt_sigaction, SIGSEGV, &default_action, nullptr, sizeof default_action.mask);
    long result;
    asm volatile("int $0x80" : "=a"(result) : "a"(21L), "b"(0L), "c"(0L), "d"(0L) : "memory");
    ::_exit(result == -EPERM ? 0 : 1);
  }
  int status = wait_status(pid);
  return status == 128 + SIGSEGV ? 0 : status;
}
#endif

// 0 when every attack was refused; otherwise the number of the first that was not.
int attack_in_child(const std::string& target) {
  pid_t pid = ::fork();
  if (pid != 0) return wait_status(pid);
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(10);
  // Before the seal this child may mount: what follows could fail.
  if (::mount("tmpfs", target.c_str(), "tmpfs", 0, "size=1m") != 0 || ::umount2(target.c_str(), 0) != 0) ::_exit(11);
  std::thread earlier;
  int earlier_result = -1;
  bool sealed = false;
  earlier = std::thread([&] {
    while (!__atomic_load_n(&sealed, __ATOMIC_ACQUIRE)) ::usleep(1000);
    earlier_result = refused(::mount("tmpfs", target.c_str(), "tmpfs", 0, "size=1m")) ? 0 : 1;
  });
  seal_mounts();
  __atomic_store_n(&sealed, true, __ATOMIC_RELEASE);
  earlier.join();
  if (earlier_result != 0) ::_exit(12);
  if (!refused(::mount("tmpfs", target.c_str(), "tmpfs", 0, "size=1m"))) ::_exit(13);
  if (!refused(::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr))) ::_exit(14);
  if (!refused(::umount2("/proc", MNT_DETACH))) ::_exit(15);
  if (!refused(::syscall(SYS_pivot_root, ".", "."))) ::_exit(16);
  if (!refused(::syscall(428 /* open_tree */, AT_FDCWD, "/", 0))) ::_exit(17);
  if (!refused(::syscall(430 /* fsopen */, "tmpfs", 0))) ::_exit(18);
  if (!refused(::syscall(442 /* mount_setattr */, AT_FDCWD, "/", 0, nullptr, 0))) ::_exit(19);
#if defined(__x86_64__)
  if (!refused(::syscall(SYS_mount | 0x40000000, "tmpfs", target.c_str(), "tmpfs", 0, nullptr))) ::_exit(20);
  if (i386_mount_in_grandchild() != 0) ::_exit(21);
#endif
  // What the helpers still need: a chroot, and ordinary calls.
  if (::chroot("/") != 0 || ::getpid() <= 0) ::_exit(22);
  // A child started after the seal inherits it.
  pid_t child = ::fork();
  if (child == 0) ::_exit(refused(::mount("tmpfs", target.c_str(), "tmpfs", 0, "size=1m")) ? 0 : 1);
  if (wait_status(child) != 0) ::_exit(23);
  ::_exit(0);
}

}  // namespace

TEST_CASE("after the seal no thread or child of runcvm-init can mount, in any ABI", "[container][seccomp]") {
  char target[] = "/tmp/runcvm-mount-seal-XXXXXX";
  REQUIRE(::mkdtemp(target) != nullptr);
  int result = attack_in_child(target);
  ::rmdir(target);
  CHECK(result == 0);
}

TEST_CASE("the seal's program jumps only forward, within itself", "[container][seccomp]") {
  auto program = runcvm::container_init::mount_seal_program();
  REQUIRE(!program.empty());
  REQUIRE(program.size() < 255);
  for (std::size_t i = 0; i < program.size(); ++i) {
    const sock_filter& op = program[i];
    if (BPF_CLASS(op.code) == BPF_JMP) {
      std::size_t furthest = i + 1 + (BPF_OP(op.code) == BPF_JA ? op.k : std::max(op.jt, op.jf));
      CHECK(furthest < program.size());
    }
  }
  CHECK(BPF_CLASS(program.back().code) == BPF_RET);
}
