// PID 1 of the VM: sets the VM up as runc would have set up the container, runs the workload with
// its stdin, stdout and stderr carried over the host<->VM channel as separate streams, reaps every
// process, reports the workload's exit code, and powers the VM off once the host has confirmed
// that all output arrived.
#include "vm/vm-init/pid1.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "channel/boot_stages.hpp"
#include "channel/frame.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/machine.hpp"
#include "handoff/network.hpp"
#include "handoff/state_directory.hpp"
#include "vm/vm-init/exec_agent.hpp"
#include "vm/vm-init/kernel_modules.hpp"
#include "vm/vm-init/network_config.hpp"
#include "vm/vm-init/port_relay.hpp"
#include "vm/vm-init/relay.hpp"
#include "vm/vm-init/system_setup.hpp"
#include "vm/vm-init/workload.hpp"

namespace runcvm::vm_init {
namespace {

using channel::FrameType;

// With an init as the VM's PID 1, this child of it keeps the channel so that the host's signals
// (docker stop, docker kill) still reach PID 1. systemd re-executes itself on SIGTERM and halts
// without powering off on SIGRTMIN+3 (the STOPSIGNAL of systemd images); either would leave the
// VM running, so both become SIGRTMIN+4, its poweroff.
[[noreturn]] void run_init_agent(int port) {
  char exe[256] = {};
  bool systemd = ::readlink("/proc/1/exe", exe, sizeof exe - 1) > 0 && std::string_view(exe).ends_with("/systemd");
  channel::Decoder decoder;
  for (;;) {
    pollfd p{port, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) continue;
    bool would_block = false;
    std::string data;
    try {
      data = read_some(port, 65536, would_block, "the channel");
      if (would_block) continue;
      if (data.empty()) ::_exit(0);
      decoder.feed(data);
      while (auto frame = decoder.next()) {
        if (frame->type != FrameType::signal) continue;
        int sig = static_cast<int>(channel::payload_u32(*frame));
        if (!systemd) {  // whatever PID 1 is now (it may have exec'd since)
          std::fill(std::begin(exe), std::end(exe), '\0');
          systemd = ::readlink("/proc/1/exe", exe, sizeof exe - 1) > 0 && std::string_view(exe).ends_with("/systemd");
        }
        if (systemd && (sig == SIGTERM || sig == SIGRTMIN + 3)) sig = SIGRTMIN + 4;
        ::kill(1, sig);
      }
    } catch (const Error&) {
      ::_exit(1);
    }
  }
}

// RUNCVM_BREAK: at `point`, when asked, the bundle's shell on the container's terminal (relayed
// like a workload's pty); start-up goes on when it exits.
void break_shell(const char* point, const handoff::Launch& launch, int port, int signals, channel::Decoder& decoder) {
  if (std::find(launch.breakpoints.begin(), launch.breakpoints.end(), point) == launch.breakpoints.end()) return;
  handoff::Process shell;
  handoff::BundleLayout bundle;
  shell.args = {bundle.path(handoff::kBundleShell), "sh"};
  shell.env = {"PATH=" + bundle.programs() + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME=/root", std::string("PS1=runcvm ") + point + "# "};
  for (const auto& entry : launch.process.env)
    if (entry.starts_with("TERM=")) shell.env.push_back(entry);
  shell.terminal = true;
  shell.console_size = launch.process.console_size;
  Workload w = start_workload(shell);
  ::fcntl(w.stdin_write.get(), F_SETFL, ::fcntl(w.stdin_write.get(), F_GETFL) | O_NONBLOCK);
  Relay(port, w, signals, decoder).run();
}

// The agent closes its end once the clock is set or it gave up (ClockMeasurement::kGiveUpAfterNs);
// the limit here only guards against an agent that died before it could.
void wait_for_clock(UniqueFd clock_set) {
  if (!clock_set) return;
  pollfd p{clock_set.get(), POLLIN, 0};
  while (::poll(&p, 1, 2000) < 0 && errno == EINTR) {
  }
}

double boot_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// The workload never started: say why and with which exit status, as runc would (127 for a
// container it could not set up or a program it cannot find, 126 for one it cannot execute), and
// wait for runcvm-init to take it before the VM powers off.
int report_start_failure(int port, int signals, channel::Decoder& decoder, const std::string& reason, int code) {
  write_all(port, channel::encode(FrameType::error, reason), "the channel");
  write_all(port, channel::encode_u32(FrameType::exit_status, static_cast<std::uint32_t>(code)), "the channel");
  Workload none;
  Relay(port, none, signals, decoder).wait_for_ack(std::chrono::seconds(5));
  return code;
}

// What the VM side holds from boot to power-off: the channel to runcvm-init, SIGCHLD as a
// descriptor, and the decoder relays share.
struct Session {
  handoff::Launch launch;
  UniqueFd port;
  UniqueFd signals;
  UniqueFd clock_set;  // the exec agent closes its end once the clock is set
  channel::Decoder decoder;

  // RUNCVM_BREAK's shell at `point`, when asked.
  void break_at(const char* point) { break_shell(point, launch, port.get(), signals.get(), decoder); }
  int report_start_failure(const std::string& reason, int code) {
    return vm_init::report_start_failure(port.get(), signals.get(), decoder, reason, code);
  }
};

// `docker exec` sessions run from the exec agent, beside the workload, over a port of their own.
// It is started while PID 1 still sets the VM up (the network), and sets the clock meanwhile:
// under TCG the two take about as long, on two vCPUs. Returns the end to close once the VM is
// set up (the agent's sessions start then); the workload waits for the clock (wait_for_clock).
UniqueFd start_exec_agent(Session& session, UniqueFd exec_port) {
  int clock_set[2] = {-1, -1}, setup_done[2] = {-1, -1};
  if (::pipe2(clock_set, O_CLOEXEC) != 0) clock_set[0] = clock_set[1] = -1;
  if (::pipe2(setup_done, O_CLOEXEC) != 0) throw system_error("creating", "the exec agent's pipe", errno);
  if (::fork() == 0) {
    ::close(session.port.get());
    ::close(session.signals.get());
    if (clock_set[0] >= 0) ::close(clock_set[0]);
    ::close(setup_done[1]);
    run_exec_agent(std::move(exec_port), UniqueFd(clock_set[1]), UniqueFd(setup_done[0]));
  }
  exec_port.reset();
  if (clock_set[1] >= 0) ::close(clock_set[1]);
  ::close(setup_done[0]);
  session.clock_set = UniqueFd(clock_set[0]);
  return UniqueFd(setup_done[1]);
}

// RUNCVM_INIT: the image's init replaces this program as PID 1; a child keeps the channel for
// the host's signals. Returns only if the init did not start.
int run_as_init(Session& session) {
  session.break_at("preworkload");
  pid_t agent = ::fork();
  if (agent == 0) run_init_agent(session.port.get());
  std::string failure = exec_as_init(session.launch.process);
  if (agent > 0) ::kill(agent, SIGKILL);
  return session.report_start_failure(failure, 127);
}

// The workload as a child, its streams relayed until it exits and its output is drained; then
// its exit status, once the host confirmed it has everything before it.
int run_workload(Session& session, channel::GuestStages& stages) {
  Workload workload;
  try {
    session.break_at("preworkload");
    workload = start_workload(session.launch.process);
  } catch (const Error& e) {
    return session.report_start_failure(e.what(), start_failure_exit_code(e));
  }
  for (int fd :
       {workload.stdout_read.get(), workload.stderr_read.get(), workload.terminal ? workload.stdin_write.get() : -1})
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  stages.workload_start = boot_seconds();
  Relay relay(session.port.get(), workload, session.signals.get(), session.decoder);
  int code = relay.run();
  stages.workload_exit = boot_seconds();
  int port = session.port.get();
  if (session.launch.timings) {
    stages.sent = boot_seconds();
    write_all(port, channel::encode(FrameType::stages, channel::format_guest_stages(stages)), "the channel");
  }
  write_all(port, channel::encode_u32(FrameType::exit_status, static_cast<std::uint32_t>(code)), "the channel");
  relay.wait_for_ack(std::chrono::seconds(5));
  return code;
}

int run(Session& session, const std::optional<InitramfsHandover>& initramfs) {
  channel::GuestStages stages;
  stages.vm_init = boot_seconds();
  // Booted without an initramfs: the kernel's own boot ran until this program started.
  stages.initramfs = initramfs ? initramfs->started : stages.vm_init;
  UniqueFd exec_port(initramfs ? initramfs->exec_port : -1);
  session.launch = handoff::parse_launch(read_file(handoff::kLaunchPath));
  const handoff::Launch& launch = session.launch;
  CoveredMounts covered(launch);
  std::vector<SocketRelay> sockets = plan_socket_relays(launch);
  mount_system_filesystems();
  // Before the channel: with the image's kernel, its driver may be a module nothing loaded yet.
  // A failure here cannot be reported over the channel; it goes to the console (RUNCVM_KERNEL_DEBUG).
  load_drivers(launch.kernel.modules, device_drivers(launch));
  session.port = UniqueFd(initramfs && initramfs->channel_port >= 0 ? initramfs->channel_port
                                                                    : open_virtio_port(channel::kPortName));
  int port = session.port.get();
  write_all(port, channel::encode(FrameType::ready), "the channel");

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  session.signals = UniqueFd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));

  UniqueFd setup_done;
  try {
    apply_launch_settings(launch);
    covered.attach();
    set_workload_cgroup(make_workload_cgroup(launch));
    setup_done = start_exec_agent(session, std::move(exec_port));  // its sessions join the workload's cgroup
    session.break_at("prenet");
    configure_network(handoff::parse_network(read_file(handoff::kNetworkPath)));
    session.break_at("postnet");
    // The relays are forked, not exec'd: they close what is PID 1's, the end of setup_done above
    // all (held open by them, the exec agent would never say it is ready).
    std::vector<int> theirs_not = {port, session.signals.get(), setup_done.get(), session.clock_set.get()};
    if (auto vnc = handoff::vnc_port(launch)) start_port_relay(*vnc, handoff::kHostSideAddress, theirs_not);
    for (const auto& socket : sockets) start_socket_relay(socket, handoff::kHostSideAddress, theirs_not);
  } catch (const Error& e) {
    (void)setup_done.release();  // no exec session starts in a VM that is going down
    return session.report_start_failure(e.what(), 127);
  }

  setup_done.reset();
  wait_for_clock(std::move(session.clock_set));
  return launch.exec_init ? run_as_init(session) : run_workload(session, stages);
}

}  // namespace

void run_as_pid1(std::optional<InitramfsHandover> initramfs) {
  Session session;
  try {
    run(session, initramfs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", format_error_line("runcvm-vm-init", e).c_str());
  }
  // Whatever happened, PID 1 must not exit (the kernel would panic): the VM powers off, and the
  // host reports the exit status it received (or an error if none came).
  ::kill(-1, SIGKILL);
  power_off(session.port.get());
}

}  // namespace runcvm::vm_init
