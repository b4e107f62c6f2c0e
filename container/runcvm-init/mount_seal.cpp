#include "container/runcvm-init/mount_seal.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "common/error.hpp"

// Written by hand rather than with libseccomp: a fixed deny list of eleven calls is a dozen
// instructions, and runcvm-init is linked statically with nothing it does not need.
namespace runcvm::container_init {
namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_X86_64;
// x32 calls are x86_64's numbers with this bit set.
constexpr std::uint32_t kX32Bit = 0x40000000;
// i386 (int 0x80) numbers: mount, umount, umount2, pivot_root, then the new mount API.
constexpr std::initializer_list<std::uint32_t> kI386MountCalls = {21, 22, 52, 217, 428, 429, 430, 431, 432, 433, 442};
#elif defined(__aarch64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#else
#error "mount_seal: add this architecture's audit arch and compat ABIs"
#endif

constexpr std::initializer_list<std::uint32_t> kNativeMountCalls = {
#ifdef SYS_mount
    SYS_mount,
#endif
#ifdef SYS_umount
    SYS_umount,
#endif
    SYS_umount2,
    SYS_pivot_root,
    428 /* open_tree */,
    429 /* move_mount */,
    430 /* fsopen */,
    431 /* fsconfig */,
    432 /* fsmount */,
    433 /* fspick */,
    442 /* mount_setattr */};

sock_filter statement(std::uint16_t code, std::uint32_t k) { return BPF_STMT(code, k); }
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t if_true, std::uint8_t if_false) {
  return BPF_JUMP(code, k, if_true, if_false);
}

// Appends: compare the loaded number with each of `calls`, EPERM on a match, else allow.
void deny_each(std::vector<sock_filter>& program, std::initializer_list<std::uint32_t> calls) {
  auto remaining = static_cast<std::uint8_t>(calls.size());
  for (std::uint32_t call : calls) {
    // On a match, jump over the remaining comparisons and the allow to the EPERM return.
    --remaining;
    program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, call, static_cast<std::uint8_t>(remaining + 1), 0));
  }
  program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
}

}  // namespace

std::vector<sock_filter> mount_seal_program() {
  std::vector<sock_filter> native, program;
  native.push_back(statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
#if defined(__x86_64__)
  native.push_back(statement(BPF_ALU | BPF_AND | BPF_K, ~kX32Bit));
#endif
  deny_each(native, kNativeMountCalls);

  program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
#if defined(__x86_64__)
  std::vector<sock_filter> i386;
  i386.push_back(statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  deny_each(i386, kI386MountCalls);
  // native: the part that follows; i386: the part after it; an ABI this filter does not know:
  // refused outright (none of runcvm-init's programs uses one).
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 2, 0));
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, static_cast<std::uint8_t>(1 + native.size()), 0));
  program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  program.insert(program.end(), native.begin(), native.end());
  program.insert(program.end(), i386.begin(), i386.end());
#else
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 1, 0));
  program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  program.insert(program.end(), native.begin(), native.end());
#endif
  return program;
}

void seal_mounts() {
  std::vector<sock_filter> program = mount_seal_program();
  sock_fprog filter{static_cast<unsigned short>(program.size()), program.data()};
  long result = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &filter);
  // With TSYNC a positive result names a thread that could not take the filter.
  if (result > 0)
    throw Error("installing the seccomp filter that ends runcvm-init's mounts: thread " + std::to_string(result) +
                " could not take it");
  if (result != 0) throw system_error("installing", "the seccomp filter that ends runcvm-init's mounts", errno);
}

}  // namespace runcvm::container_init
