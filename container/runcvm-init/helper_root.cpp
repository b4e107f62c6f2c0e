#include "container/runcvm-init/helper_root.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"
#include "common/file.hpp"
#include "container/runcvm-init/close_on_exec.hpp"
#include "container/runcvm-init/container_root.hpp"
#include "container/runcvm-init/vm_command.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/launch.hpp"
#include "handoff/state_directory.hpp"

namespace runcvm::container_init {
namespace {

namespace fs = std::filesystem;

void mount_or_throw(const char* source, const std::string& target, const char* type, unsigned long flags,
                    const char* data = nullptr) {
  if (::mount(source, target.c_str(), type, flags, data) != 0)
    throw system_error(std::string("mounting ") + (source ? source : type ? type : "") + " on", target, errno);
}

void directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw system_error("creating", path, errno);
}

// A bind of `source` at `target` that is read-only in itself (a remount of the bind).
void bind_read_only(const char* source, const std::string& target, unsigned long recursive) {
  mount_or_throw(source, target, nullptr, MS_BIND | recursive);
  mount_or_throw(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV);
}

// The container's root, recursively (volumes and Docker's /etc files included), minus what is
// the container's own business and not the VM's.
void build_share(const std::string& share, const std::vector<std::string>& vm_documents) {
  directory(share);
  mount_or_throw("/", share, nullptr, MS_BIND | MS_REC);
  // Private first: were `/` shared (rootfsPropagation), the unmounts below would propagate to the
  // container's own /proc and /dev.
  mount_or_throw(nullptr, share, nullptr, MS_REC | MS_PRIVATE);
  for (const char* own : {"/proc", "/sys", "/dev", handoff::kStateDirectory}) {
    std::string path = share + own;
    // MNT_DETACH takes the submounts (/dev/pts, /dev/shm, the helper root itself) with it.
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      throw system_error("unmounting", path, errno);
  }
  std::string state = share + handoff::kStateDirectory;
  directory(state);
  mount_or_throw("tmpfs", state, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m");
  for (const auto& document : vm_documents)
    // Root-only in the VM too: a non-root workload cannot read the container's environment
    // from another process under runc either (/proc/1/environ).
    write_file_atomic(state + "/" + fs::path(document).filename().string(), read_file(document), fs::perms(0600));
  mount_or_throw(nullptr, state, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  // virtiofsd chroots into the share: after that, a library it loaded (glibc loads gconv, NSS and
  // libgcc_s modules on demand) would come from the image. Nothing below the share may be mapped
  // executable, run setuid or opened as a device from the host side; the guest sees the same
  // files, modes and bits, and its own kernel decides what runs in the VM.
  struct mount_attr attributes {};
  attributes.attr_set = MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::mount_setattr(AT_FDCWD, share.c_str(), AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attributes, sizeof attributes) != 0)
    throw system_error(errno == ENOSYS ? "making noexec (mount_setattr needs Linux 5.12)" : "making noexec", share,
                       errno);
}

// capset(2) through the raw system call: libcap is not among the dependencies, and two
// structures are all it takes.
void clear_capability(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) throw system_error("reading", "capabilities", errno);
  unsigned word = static_cast<unsigned>(capability) / 32, bit = 1u << (static_cast<unsigned>(capability) % 32);
  data[word].effective &= ~bit;
  data[word].permitted &= ~bit;
  data[word].inheritable &= ~bit;
  if (::syscall(SYS_capset, &header, data) != 0) throw system_error("dropping", "CAP_SYS_ADMIN", errno);
}

// Between fork and exec (system calls only): takes `ids` (if any: groups, gid, then uid, while
// CAP_SETGID and CAP_SETUID are still held), then empties the bounding, ambient, inheritable,
// permitted and effective sets and sets no_new_privs. 0, or the errno of what failed.
int drop_every_capability(const HelperIds* ids) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  for (int capability = 0; capability <= 63; ++capability)
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  if (ids) {
    // The raw calls: glibc's wrappers signal every thread to change ids process-wide, which a
    // child of a threaded process has no need of (it is alone) and must not risk between fork and exec.
    if (::syscall(SYS_setgroups, ids->groups.size(), ids->groups.data()) != 0) return errno;
    if (::syscall(SYS_setresgid, ids->gid, ids->gid, ids->gid) != 0) return errno;
    if (::syscall(SYS_setresuid, ids->uid, ids->uid, ids->uid) != 0) return errno;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) != 0) return errno;
  return 0;
}

// What the child of spawn_helper reports through its failure pipe when it cannot exec.
struct ChildFailure {
  enum Step : int { stdio, helper_root, privileges, descriptors, exec } step;
  int error;
};

std::string failed_step(ChildFailure::Step step) {
  switch (step) {
    case ChildFailure::stdio:
      return "opening /dev/null as stdin of";
    case ChildFailure::helper_root:
      return "entering the helper root for";
    case ChildFailure::privileges:
      return "dropping every capability of";
    case ChildFailure::descriptors:
      return "marking runcvm-init's descriptors close-on-exec for";
    case ChildFailure::exec:
      break;
  }
  return "starting";
}

}  // namespace

void make_root_read_only(const std::vector<std::string>& mount_points) {
  // Through the image's links, but inside its root and never onto runcvm's or the kernel's mounts.
  ContainerRoot container("--read-only");
  for (const auto& point : mount_points)
    // runc's own mounts, there in every container (and runcvm's to refuse anywhere below them).
    if (point != "/proc" && point != "/sys" && point != "/dev") container.make_directories(point);
  // A bind remount replaces the mount's flags: keep those it has (nosuid, nodev…).
  struct statvfs root {};
  if (::statvfs("/", &root) != 0) throw system_error("reading the mount flags of", "/", errno);
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
  for (auto [st, ms] : {std::pair{ST_NOSUID, MS_NOSUID},
                        {ST_NODEV, MS_NODEV},
                        {ST_NOEXEC, MS_NOEXEC},
                        {ST_NOATIME, MS_NOATIME},
                        {ST_NODIRATIME, MS_NODIRATIME},
                        {ST_RELATIME, MS_RELATIME}})
    if (root.f_flag & st) flags |= ms;
  mount_or_throw(nullptr, "/", nullptr, flags);
}

// glibc's malloc asks the kernel's transparent huge page mode and size here before it puts its
// heap on huge pages (helper_environment says why the helpers want that). These read-only files
// alone, not the rest of /sys; a kernel without THP has no such directory and the helpers do
// without.
void bind_hugepage_settings(const std::string& root) {
  constexpr const char* kSettings = "/sys/kernel/mm/transparent_hugepage";
  struct stat st {};
  if (::stat(kSettings, &st) != 0 || !S_ISDIR(st.st_mode)) return;
  std::string at = root;
  for (const char* part : {"/sys", "/kernel", "/mm", "/transparent_hugepage"}) directory(at += part);
  bind_read_only(kSettings, at, 0);
}

void build_helper_root(const std::vector<std::string>& vm_documents) {
  std::string root = kHelperRoot;
  directory(root);
  mount_or_throw("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m");
  mount_or_throw(nullptr, root, nullptr, MS_PRIVATE);
  build_share(root + kSharedRoot, vm_documents);
  for (const char* dir : {handoff::kBundleMountParent, handoff::kBundleMountPoint, "/dev", "/proc", "/run", "/var",
                          handoff::kStateDirectory})
    directory(root + dir);
  // virtiofsd keeps a lock file in /var/run/virtiofsd: the one writable place, a tmpfs of its own.
  if (::symlink("../run", (root + "/var/run").c_str()) != 0) throw system_error("creating", root + "/var/run", errno);
  mount_or_throw("tmpfs", root + "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m");
  bind_read_only(handoff::kBundleMountPoint, root + handoff::kBundleMountPoint, MS_REC);
  mount_or_throw("/dev", root + "/dev", nullptr, MS_BIND | MS_REC);
  mount_or_throw("/proc", root + "/proc", nullptr, MS_BIND | MS_REC);
  bind_hugepage_settings(root);
  // The sockets alone, not the state directory they are in (launch document, exec socket, log).
  directory(root + kHelperSocketDirectory);
  mount_or_throw(kHelperSocketDirectory, root + kHelperSocketDirectory, nullptr, MS_BIND);
  mount_or_throw(nullptr, root, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV);
}

unsigned thread_count() {
  std::string status = read_file("/proc/self/status");
  auto at = status.find("\nThreads:");
  if (at == std::string::npos) throw Error("/proc/self/status has no Threads line");
  return static_cast<unsigned>(std::strtoul(status.c_str() + at + 9, nullptr, 10));
}

void require_state_directory_mounts() {
  for (const char* path : {handoff::kStateDirectory, handoff::kStateBundleBin}) {
    struct statx st {};
    if (::statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &st) != 0) throw system_error("reading", path, errno);
    if (!(st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
      throw Error("the kernel cannot tell whether " + quote(path) + " is a mount point (statx needs Linux 5.8)");
    if (!S_ISDIR(st.stx_mode) || !(st.stx_attributes & STATX_ATTR_MOUNT_ROOT))
      throw Error(quote(path) + " is not the mount point runcvm's runtime made there")
          .with_hint("is the container's runtime runcvm-runtime, and the image's " + std::string(path) +
                     " absent or a plain directory?");
  }
}

void drop_sys_admin() {
  if (unsigned threads = thread_count(); threads != 1)
    throw Error("dropping CAP_SYS_ADMIN: runcvm-init already runs " + std::to_string(threads) +
                " threads, which would keep it");
  if (::prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0) throw system_error("dropping", "CAP_SYS_ADMIN", errno);
  clear_capability(CAP_SYS_ADMIN);
}

int spawn_helper(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 const std::vector<int>& keep_fds, bool quiet, const HelperPrivileges& privileges) {
  // Everything the child needs is made before fork: runcvm-init has threads (the DNS
  // forwarder), so the child may only make system calls until it execs.
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<int> keep = keep_fds;
  std::sort(keep.begin(), keep.end());
  sigset_t none;
  sigemptyset(&none);
  int failure[2];
  if (::pipe2(failure, O_CLOEXEC) != 0) throw system_error("starting", argv[0], errno);
  pid_t pid = ::fork();
  if (pid < 0) {
    int error = errno;
    ::close(failure[0]);
    ::close(failure[1]);
    throw system_error("starting", argv[0], error);
  }
  if (pid == 0) {
    ChildFailure failure_report{ChildFailure::stdio, 0};
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || ::dup2(null, 0) < 0 || (quiet && ::dup2(null, 2) < 0)) failure_report.error = errno;
    if (!failure_report.error && (::chroot(kHelperRoot) != 0 || ::chdir("/") != 0))
      failure_report = {ChildFailure::helper_root, errno};
    if (!failure_report.error && privileges.drop_all)
      failure_report = {ChildFailure::privileges, drop_every_capability(privileges.ids ? &*privileges.ids : nullptr)};
    // A helper must not start with a descriptor of runcvm-init's (the channel, the exec socket,
    // the VM's ports): if the sweep cannot vouch for every one, the helper does not start.
    if (!failure_report.error) failure_report = {ChildFailure::descriptors, mark_close_on_exec_except(3, keep)};
    if (!failure_report.error) {
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execve(args[0], args.data(), envp.data());
      failure_report = {ChildFailure::exec, errno};
    }
    [[maybe_unused]] auto n = ::write(failure[1], &failure_report, sizeof failure_report);
    ::_exit(127);
  }
  ::close(failure[1]);
  ChildFailure failure_report{};
  ssize_t n;
  do n = ::read(failure[0], &failure_report, sizeof failure_report);
  while (n < 0 && errno == EINTR);
  ::close(failure[0]);
  if (n == sizeof failure_report) {
    ::waitpid(pid, nullptr, 0);
    throw system_error(failed_step(failure_report.step), argv[0], failure_report.error);
  }
  return pid;
}

}  // namespace runcvm::container_init
