// runcvm-init's loop once the VM runs: the workload's stdin to the channel, its stdout, stderr
// and exit status from it, signals and window size to it, exec sessions beside it (exec_mux.hpp),
// until QEMU exits. What the VM sends is untrusted: a malformed frame stops the channel (the VM's
// exit is then reported as a failure) and a frame with a bad payload is dropped, each with a
// notice; nothing the VM sends ends runcvm-init or blocks its loop on a port.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "channel/boot_stages.hpp"
#include "channel/frame.hpp"
#include "container/runcvm-init/exec_mux.hpp"
#include "container/runcvm-init/port_writer.hpp"

namespace runcvm::container_init {

struct Stages {
  channel::HostStages host;
  channel::GuestStages guest;
  bool complete = false;  // the guest's report arrived
};

struct SupervisorSettings {
  int channel = -1;      // QEMU's connection for the channel port
  int signals = -1;      // signalfd of the signals runcvm-init handles
  pid_t qemu = -1;       // the run ends when it exits
  pid_t virtiofsd = -1;  // the VM's root: when it dies first, QEMU is stopped (the guest's I/O would hang)
  bool terminal = false;
  bool exec_init = false;     // the VM's PID 1 is the image's init: it has the console, not stdin
  bool panic_device = false;  // QEMU exits with status 1 when the guest's kernel panics
  // Called once, when the first bytes come from the guest (its init runs).
  std::function<void()> guest_started = {};
  // Why the VM may have stopped without a word, when something saw it (the image's kernel's console).
  std::function<std::string()> silent_stop_reason = {};
  // The workload's streams on this side (tests give their own).
  int stdin_fd = 0;
  int stdout_fd = 1;
  int stderr_fd = 2;
};

class Supervisor {
 public:
  Supervisor(SupervisorSettings settings, ExecMux& exec, Stages& stages);

  // Runs until QEMU exits; returns the container's exit code: the workload's, or, when the VM
  // stopped without it, 128 + the signal that killed QEMU or virtiofsd, else 1, with one line on
  // stderr saying which.
  int run();

  // One step of the state machine, for run() and for tests: what arrived on the channel.
  void from_channel(std::string_view bytes);
  bool channel_open() const { return settings_.channel >= 0; }
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  void send(std::string_view frame);
  void send_window_size();
  void forward_stdin();
  void read_channel();
  void stop_channel();
  void handle_frame(const channel::Frame& frame);
  void handle_signals();
  int poll_timeout_ms() const;
  void check_virtiofsd();
  // SIGKILL to QEMU: never to a pid of 0 or less (kill's "every process" and "our group").
  void kill_qemu() const;

  SupervisorSettings settings_;
  ExecMux& exec_;
  Stages& stages_;
  PortWriter to_channel_;
  channel::Decoder decoder_;
  bool stdin_open_ = true;
  bool qemu_exited_ = false;
  bool guest_spoke_ = false;  // something arrived on the channel: the VM's init ran
  int qemu_status_ = 0;
  std::optional<int> virtiofsd_status_;
  std::optional<std::chrono::steady_clock::time_point> virtiofsd_exit_;
  bool virtiofsd_failed_ = false;  // it died while QEMU ran on: this side ended the VM
  std::optional<int> exit_code_;
};

}  // namespace runcvm::container_init
