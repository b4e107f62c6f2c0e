// The VM's side of a workload's streams: its stdout and stderr to the host as frames, the host's
// stdin, signals and terminal size to it, and its exit status reaped (the VM's PID 1 reaps every
// process). The host's side is runcvm-init's supervisor (container/runcvm-init/supervisor.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "channel/frame.hpp"
#include "vm/vm-init/workload.hpp"

namespace runcvm::vm_init {

class Relay {
 public:
  // The decoder is the caller's: relays follow one another on the channel (a break point's shell,
  // then the workload), and a frame may straddle the change.
  Relay(int port, Workload& workload, int signals, channel::Decoder& decoder)
      : port_(port), w_(workload), signals_(signals), decoder_(decoder) {}

  // Runs until the workload has exited and its output is drained; returns its exit code.
  int run();

  // After the exit status: wait for the host to confirm it wrote everything before it.
  void wait_for_ack(std::chrono::milliseconds limit);

 private:
  int open_outputs() const;
  void send(const std::string& frame);
  void forward_output(int fd);
  // Whether an exit_ack came; with ack_only, stdin that arrives is dropped.
  bool read_channel(bool ack_only = false);
  void reap();

  int port_;
  Workload& w_;
  int signals_;
  channel::Decoder& decoder_;
  std::optional<int> exit_code_;
};

}  // namespace runcvm::vm_init
