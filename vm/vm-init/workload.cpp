#include "vm/vm-init/workload.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "common/capabilities.hpp"
#include "common/error.hpp"
#include "common/terminal.hpp"

namespace runcvm::vm_init {
namespace {

const std::map<std::string, int, std::less<>> kRlimits = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK}};

// PATH lookup as execvp does it, but with the workload's PATH rather than ours.
std::string resolve_command(const std::string& command, const std::vector<std::string>& env) {
  if (command.find('/') != std::string::npos) return command;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& entry : env)
    if (entry.starts_with("PATH=")) path = entry.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = (end > start ? path.substr(start, end - start) : ".") + "/" + command;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// runc gives a process without HOME the home directory of its user in /etc/passwd, else "/".
std::vector<std::string> with_home(std::vector<std::string> env, std::uint32_t uid) {
  for (const auto& entry : env)
    if (entry.starts_with("HOME=")) return env;
  std::string home = "/";
  if (std::FILE* passwd = std::fopen("/etc/passwd", "re")) {
    char line[1024];
    while (std::fgets(line, sizeof line, passwd)) {
      // name:password:uid:gid:gecos:home:shell
      std::vector<std::string> fields;
      std::string_view rest(line);
      while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.remove_suffix(1);
      for (size_t at; (at = rest.find(':')) != std::string_view::npos; rest.remove_prefix(at + 1))
        fields.emplace_back(rest.substr(0, at));
      fields.emplace_back(rest);
      if (fields.size() >= 7 && fields[2] == std::to_string(uid) && !fields[5].empty()) {
        home = fields[5];
        break;
      }
    }
    std::fclose(passwd);
  }
  env.push_back("HOME=" + home);
  return env;
}

// What execve needs, prepared before anything changes (fork, dup2): the program found on the
// workload's PATH, and argv/envp pointing into strings this object owns.
// The capability sets as the kernel takes them, computed before fork (the child may not allocate).
struct CapabilityMasks {
  std::uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

struct Command {
  std::string program;
  std::vector<std::string> env;
  std::vector<char*> argv, envp;
  std::optional<CapabilityMasks> capabilities;

  // Throws runcvm::Error when the program is not found, as runc reports it.
  explicit Command(const handoff::Process& p)
      : program(resolve_command(p.args.front(), p.env)), env(with_home(p.env, p.uid)) {
    if (program.empty()) throw Error("exec: " + quote(p.args.front()) + ": executable file not found in $PATH");
    for (const auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    if (const auto& c = p.capabilities)
      capabilities =
          CapabilityMasks{capability_mask(c->bounding), capability_mask(c->effective), capability_mask(c->permitted),
                          capability_mask(c->inheritable), capability_mask(c->ambient)};
  }
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;
};

// The error pipe carries the errno (4 bytes, native order: both ends are this program) and the
// reason.
[[noreturn]] void fail_in_child(int error_pipe, const char* what) {
  int e = errno;
  std::string message(reinterpret_cast<const char*>(&e), sizeof e);
  message += std::string(what) + ": " + std::strerror(e);
  [[maybe_unused]] auto n = ::write(error_pipe, message.data(), message.size());
  ::_exit(127);
}

// The bounding set first (it needs CAP_SETPCAP, which the change of ids may take), and the
// capabilities kept across that change (PR_SET_KEEPCAPS), as runc orders it.
bool limit_bounding_set(const CapabilityMasks& caps) {
  for (int c = 0; c < 64; ++c)
    if (!(caps.bounding & (std::uint64_t{1} << c)) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
      return false;
  return ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0;
}

// After the change of ids: effective, permitted and inheritable by capset(2) (libcap is not a
// dependency), then the ambient set, whose raises fail quietly for what is not permitted and
// inheritable, as runc lets them.
bool set_capabilities(const CapabilityMasks& caps) {
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return false;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int word = 0; word < 2; ++word) {
    data[word].effective = static_cast<std::uint32_t>(caps.effective >> (32 * word));
    data[word].permitted = static_cast<std::uint32_t>(caps.permitted >> (32 * word));
    data[word].inheritable = static_cast<std::uint32_t>(caps.inheritable >> (32 * word));
  }
  if (::syscall(SYS_capset, &header, data) != 0) return false;
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int c = 0; c < 64; ++c)
    if (caps.ambient & (std::uint64_t{1} << c)) ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
  return true;
}

// set_workload_cgroup's cgroup.procs, or "".
std::string workload_cgroup_procs;

// Writes `value` to `path` with system calls only (the child of a fork may not allocate).
bool write_text(const char* path, const char* value, std::size_t length) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value, length) == static_cast<ssize_t>(length);
  ::close(fd);
  return ok;
}

// Everything between fork and exec: only async-signal-safe calls; failures go to the error pipe.
[[noreturn]] void child(const handoff::Process& p, const std::string& program, char* const* argv, char* const* envp,
                        const std::optional<CapabilityMasks>& capabilities, int error_pipe, int in, int out, int err,
                        bool terminal) {
  auto die = [&](const char* what) { fail_in_child(error_pipe, what); };
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  if (::setsid() < 0) die("setsid");
  if (terminal && ::ioctl(in, TIOCSCTTY, 0) != 0) die("taking the terminal");
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) die("setting up stdio");
  if (!workload_cgroup_procs.empty()) {
    if (!write_text(workload_cgroup_procs.c_str(), "0", 1)) die("joining the workload's cgroup (--pids-limit)");
    if (::unshare(CLONE_NEWCGROUP) != 0) die("entering a cgroup namespace");
  }
  // Before capabilities are dropped: lowering it needs CAP_SYS_RESOURCE.
  if (p.oom_score_adj) {
    char text[16];
    int value = *p.oom_score_adj, at = sizeof text;
    bool negative = value < 0;
    unsigned magnitude = negative ? 0u - static_cast<unsigned>(value) : static_cast<unsigned>(value);
    do text[--at] = static_cast<char>('0' + magnitude % 10);
    while ((magnitude /= 10) != 0);
    if (negative) text[--at] = '-';
    if (!write_text("/proc/self/oom_score_adj", text + at, sizeof text - static_cast<std::size_t>(at)))
      die("setting oom_score_adj");
  }
  for (const auto& r : p.rlimits) {
    auto it = kRlimits.find(r.type);
    if (it == kRlimits.end()) continue;
    rlimit limit{r.soft, r.hard};
    if (::setrlimit(it->second, &limit) != 0) die("setting rlimits");
  }
  if (capabilities && !limit_bounding_set(*capabilities)) die("limiting the capability bounding set");
  std::vector<gid_t> groups(p.additional_gids.begin(), p.additional_gids.end());
  if (::setgroups(groups.size(), groups.data()) != 0) die("setting supplementary groups");
  if (::setgid(p.gid) != 0) die("setting gid");
  if (::setuid(p.uid) != 0) die("setting uid");
  if (capabilities && !set_capabilities(*capabilities)) die("setting capabilities");
  if (p.umask) ::umask(static_cast<mode_t>(*p.umask));
  if (::chdir(p.cwd.c_str()) != 0) die(("changing to working directory " + p.cwd).c_str());
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("setting no_new_privs");
  ::execve(program.c_str(), argv, envp);
  fail_in_child(error_pipe, ("executing " + program).c_str());
}

}  // namespace

void set_workload_cgroup(const std::string& directory) {
  workload_cgroup_procs = directory.empty() ? "" : directory + "/cgroup.procs";
}

int start_failure_exit_code(const Error& failure) { return failure.error_number() == EACCES ? 126 : 127; }

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

std::string exec_as_init(const handoff::Process& p) {
  std::optional<Command> command;
  try {
    command.emplace(p);
  } catch (const Error& e) {
    return e.what();
  }
  int console = ::open("/dev/console", O_RDWR | O_NOCTTY);
  if (console < 0 || ::dup2(console, 0) < 0 || ::dup2(console, 1) < 0 || ::dup2(console, 2) < 0)
    return std::string("opening /dev/console: ") + std::strerror(errno);
  if (console > 2) ::close(console);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::chdir(p.cwd.c_str()) != 0) return "changing to working directory " + p.cwd + ": " + std::strerror(errno);
  ::execve(command->program.c_str(), command->argv.data(), command->envp.data());
  return "executing " + command->program + ": " + std::strerror(errno);
}

Workload start_workload(const handoff::Process& p) {
  const Command command(p);

  Workload w;
  w.terminal = p.terminal;
  int in[2], out[2], err[2], errors[2];
  if (::pipe2(errors, O_CLOEXEC) != 0) throw system_error("creating", "a pipe", errno);
  UniqueFd child_in, child_out, child_err;
  if (p.terminal) {
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) throw system_error("opening", "a pty", errno);
    if (p.console_size) set_terminal_size(master, p.console_size->height, p.console_size->width);
    int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) throw system_error("opening", "the pty's terminal", errno);
    w.stdin_write = UniqueFd(master);
    child_in = UniqueFd(slave);
    child_out = UniqueFd(::dup(slave));
    child_err = UniqueFd(::dup(slave));
  } else {
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      throw system_error("creating", "pipes", errno);
    child_in = UniqueFd(in[0]);
    w.stdin_write = UniqueFd(in[1]);
    w.stdout_read = UniqueFd(out[0]);
    child_out = UniqueFd(out[1]);
    w.stderr_read = UniqueFd(err[0]);
    child_err = UniqueFd(err[1]);
  }
  pid_t pid = ::fork();
  if (pid < 0) throw system_error("starting", p.args.front(), errno);
  if (pid == 0)
    child(p, command.program, command.argv.data(), command.envp.data(), command.capabilities, errors[1], child_in.get(),
          child_out.get(), child_err.get(), p.terminal);
  ::close(errors[1]);
  char message[512];
  ssize_t n = ::read(errors[0], message, sizeof message);
  ::close(errors[0]);
  if (n > 0) {
    ::waitpid(pid, nullptr, 0);
    int error_number = 0;
    std::size_t header = n >= static_cast<ssize_t>(sizeof error_number) ? sizeof error_number : 0;
    std::memcpy(&error_number, message, header);
    throw Error(std::string(message + header, static_cast<size_t>(n) - header)).with_errno(error_number);
  }
  w.pid = pid;
  return w;
}

}  // namespace runcvm::vm_init
