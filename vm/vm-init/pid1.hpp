// The VM's PID 1, from its first line to power-off. Two programs run it: runcvm-vm-init, which a
// kernel booted without an initramfs starts itself, and the initramfs's init, which goes on into
// it after switching to the container's root (no exec there: under TCG a restored VM spends
// about 100 ms starting a static program, and that is on every container's start).
#pragma once

#include <optional>

namespace runcvm::vm_init {

// What the initramfs's init hands on.
struct InitramfsHandover {
  double started = 0;  // CLOCK_BOOTTIME seconds at which it started, for RUNCVM_TIMINGS
  // The channel's and the exec agent's virtio-serial ports, when it opened them (a template's
  // does, before it is saved: each copy is spared looking for them), else -1.
  int channel_port = -1;
  int exec_port = -1;
};

// `initramfs`: none when the kernel started PID 1 on the container's root itself.
[[noreturn]] void run_as_pid1(std::optional<InitramfsHandover> initramfs);

}  // namespace runcvm::vm_init
