#include "container/runcvm-init/supervisor.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "channel/input.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/reap.hpp"
#include "common/terminal.hpp"
#include "container/runcvm-init/helper_exits.hpp"
#include "container/runcvm-init/notice.hpp"

namespace runcvm::container_init {
namespace {

using channel::FrameType;
using channel::realtime_ns;

}  // namespace

Supervisor::Supervisor(SupervisorSettings settings, ExecMux& exec, Stages& stages)
    : settings_(settings), exec_(exec), stages_(stages), to_channel_(settings.channel) {
  // An init as the VM's PID 1 has the console, not the channel's streams; it reads no stdin.
  if (settings_.exec_init) stdin_open_ = false;
}

int Supervisor::run() {
  if (settings_.terminal) send_window_size();
  while (!qemu_exited_) {
    std::vector<pollfd> fds = {{settings_.signals, POLLIN, 0}};
    if (channel_open())
      fds.push_back({settings_.channel, static_cast<short>(POLLIN | (to_channel_.wants_write() ? POLLOUT : 0)), 0});
    // stdin waits while the guest does not take what was sent: the queue stays bounded.
    if (stdin_open_ && !to_channel_.congested()) fds.push_back({settings_.stdin_fd, POLLIN, 0});
    exec_.add_poll_fds(fds);
    if (::poll(fds.data(), fds.size(), poll_timeout_ms()) < 0 && errno != EINTR)
      throw system_error("polling", "the channel", errno);
    check_virtiofsd();
    for (const auto& p : fds) {
      if (exec_.handle(p)) continue;
      if (p.fd == settings_.channel && channel_open() && (p.revents & (POLLOUT | POLLHUP | POLLERR)))
        to_channel_.flush();
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (p.fd == settings_.signals)
        handle_signals();
      else if (p.fd == settings_.channel) {
        if (channel_open()) read_channel();
      } else if (p.fd == settings_.stdin_fd && stdin_open_)
        forward_stdin();
    }
  }
  // An init powers the VM off itself and reports no status: a clean poweroff is a clean exit.
  if (!exit_code_ && !virtiofsd_failed_ && settings_.exec_init && WIFEXITED(qemu_status_))
    return WEXITSTATUS(qemu_status_);
  if (exit_code_) return *exit_code_;
  auto fail = [](const std::string& what, int status) {
    std::fprintf(stderr, "runcvm-init: error: %s\n", what.c_str());
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
  };
  // virtiofsd first: when it died, this side killed QEMU.
  if (virtiofsd_failed_)
    return fail("virtiofsd, which serves the VM's root filesystem, " + describe_wait_status(*virtiofsd_status_) +
                    " before the workload did: the VM was stopped",
                *virtiofsd_status_);
  if (WIFSIGNALED(qemu_status_))
    return fail("QEMU " + describe_wait_status(qemu_status_) + ": the VM stopped before the workload did",
                qemu_status_);
  // QEMU exits with 1 both for the panic device and when it refuses its own configuration (it then
  // says why on stderr, above this line): only a VM whose init spoke has surely run.
  if (settings_.panic_device && WIFEXITED(qemu_status_) && WEXITSTATUS(qemu_status_) == 1)
    return fail(guest_spoke_ ? "the VM's kernel panicked (RUNCVM_KERNEL_DEBUG=1 shows its console)"
                             : "QEMU exited with status 1 before the VM's init started: QEMU refused its "
                               "configuration (its own message is above) or the kernel panicked while booting "
                               "(RUNCVM_KERNEL_DEBUG=1 shows its console)",
                qemu_status_);
  std::string reason = settings_.silent_stop_reason ? settings_.silent_stop_reason() : "";
  return fail(
      "the VM stopped without reporting the workload's exit status" +
          (reason.empty() ? std::string(" (set RUNCVM_KERNEL_DEBUG=1 to see the kernel's console)") : ": " + reason),
      0);
}

// QEMU still there kVirtiofsdFollowsQemu after virtiofsd ended has lost the VM's root, and the
// guest's next access to it would wait for ever: the VM is ended, and virtiofsd named as the cause.
int Supervisor::poll_timeout_ms() const {
  if (!virtiofsd_exit_ || virtiofsd_failed_) return -1;
  auto left = *virtiofsd_exit_ + kVirtiofsdFollowsQemu - std::chrono::steady_clock::now();
  return static_cast<int>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count()) + 1);
}

void Supervisor::check_virtiofsd() {
  if (!virtiofsd_exit_ || virtiofsd_failed_ || qemu_exited_ || exit_code_) return;
  if (std::chrono::steady_clock::now() < *virtiofsd_exit_ + kVirtiofsdFollowsQemu || peek_exit(settings_.qemu)) return;
  virtiofsd_failed_ = true;
  kill_qemu();
}

void Supervisor::kill_qemu() const {
  if (settings_.qemu > 0) ::kill(settings_.qemu, SIGKILL);
}

void Supervisor::send(std::string_view frame) {
  if (channel_open()) to_channel_.send(frame);
}

void Supervisor::send_window_size() {
  if (auto size = terminal_size(settings_.stdin_fd)) send(channel::encode_resize(size->first, size->second));
}

void Supervisor::forward_stdin() {
  if (auto frame = channel::read_input_frame(settings_.stdin_fd, stdin_open_)) send(*frame);
}

void Supervisor::read_channel() {
  bool would_block = false;
  std::string data = read_some_or_end(settings_.channel, 1 << 16, would_block);
  if (would_block) return;
  if (data.empty()) {  // QEMU closed its end: the VM is going down
    stop_channel();
    return;
  }
  from_channel(data);
}

void Supervisor::from_channel(std::string_view bytes) {
  if (!guest_spoke_ && settings_.guest_started) settings_.guest_started();
  guest_spoke_ = true;
  decoder_.feed(bytes);
  while (channel_open()) {
    std::optional<channel::Frame> frame;
    try {
      frame = decoder_.next();
    } catch (const Error& e) {
      // The frames' boundaries are lost; what follows cannot be told from the workload's output.
      notice(std::string("the VM sent a malformed frame on the channel (") + e.what() +
             "): its output is no longer read");
      stop_channel();
      return;
    }
    if (!frame) return;
    handle_frame(*frame);
  }
}

// Only this side closes the descriptor's use: the caller owns it and closes it at the end.
void Supervisor::stop_channel() {
  settings_.channel = -1;
  to_channel_ = PortWriter(-1);
  stdin_open_ = false;
}

void Supervisor::handle_frame(const channel::Frame& frame) {
  switch (frame.type) {
    case FrameType::stdout_data:
      write_all(settings_.stdout_fd, frame.payload, "stdout");
      break;
    case FrameType::stderr_data:
      write_all(settings_.stderr_fd, frame.payload, "stderr");
      break;
    case FrameType::error:
      write_all(settings_.stderr_fd, "runcvm: " + frame.payload + "\n", "stderr");
      break;
    case FrameType::stages:
      try {
        stages_.guest = channel::parse_guest_stages(frame.payload);
        stages_.host.stages_arrived = realtime_ns();
        stages_.complete = true;
      } catch (const Error& e) {
        notice(std::string("the VM sent a bad stages report: dropped (") + e.what() + ")");
      }
      break;
    case FrameType::exit_status:
      if (frame.payload.size() != 4 || exit_code_) {
        notice(exit_code_
                   ? "the VM sent a second exit status: dropped"
                   : "the VM sent an exit status of " + std::to_string(frame.payload.size()) + " bytes: dropped");
        break;
      }
      exit_code_ = static_cast<int>(channel::payload_u32(frame));
      // Everything the workload wrote precedes its exit status and has been written above.
      send(channel::encode(FrameType::exit_ack));
      stdin_open_ = false;
      break;
    case FrameType::synced:
      // Before the exit status the frame means nothing: the VM ends as it would without it.
      if (exit_code_ && !qemu_exited_) kill_qemu();
      break;
    default:
      break;
  }
}

void Supervisor::handle_signals() {
  signalfd_siginfo info{};
  while (::read(settings_.signals, &info, sizeof info) == sizeof info) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) {
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0)
        if (pid == settings_.qemu) {
          qemu_exited_ = true;
          qemu_status_ = status;
          stages_.host.qemu_exit = realtime_ns();
        } else if (pid == settings_.virtiofsd) {
          virtiofsd_status_ = status;
          virtiofsd_exit_ = std::chrono::steady_clock::now();
        }
    } else if (sig == SIGWINCH) {
      send_window_size();
    } else {
      // docker stop / kill: the workload gets the signal, as it would in a container; if it
      // does not exit, Docker's SIGKILL after the stop timeout ends the whole container.
      send(channel::encode_u32(FrameType::signal, static_cast<std::uint32_t>(sig)));
    }
  }
}

}  // namespace runcvm::container_init
