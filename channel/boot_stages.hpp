// Where a VM's start-up and shutdown time goes (RUNCVM_TIMINGS). The guest measures its stages on
// its own clock (seconds of CLOCK_BOOTTIME, 0 being when the kernel started counting) and sends
// them in one `stages` frame just before the exit status; runcvm-init places them on the host's
// clock by the moment that frame arrived, and reports the whole breakdown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace runcvm::channel {

struct GuestStages {
  double initramfs = 0;       // the initramfs init started: the kernel's own boot ends here
  double vm_init = 0;         // runcvm-vm-init started on the container's root
  double workload_start = 0;  // the workload was spawned
  double workload_exit = 0;   // the workload's exit was seen and its output drained
  double sent = 0;            // this report left the guest
};

// "initramfs=1.234567 vm_init=… workload_start=… workload_exit=… sent=…"
std::string format_guest_stages(const GuestStages& stages);
// Throws runcvm::Error naming the bad field.
GuestStages parse_guest_stages(std::string_view text);

// The host's moments, in nanoseconds of CLOCK_REALTIME.
struct HostStages {
  std::int64_t init_start = 0;      // runcvm-init started
  std::int64_t qemu_spawn = 0;      // QEMU was started (virtiofsd is up)
  std::int64_t stages_arrived = 0;  // the guest's report arrived
  std::int64_t qemu_exit = 0;       // QEMU exited
  std::int64_t resumed = 0;         // a VM restored from a template was resumed; 0: it booted
};
// Now, as HostStages counts.
std::int64_t realtime_ns();
// Now on CLOCK_MONOTONIC, which clock corrections never step.
std::int64_t monotonic_ns();

// One line for stderr: each stage in milliseconds, then the start and end as Unix milliseconds so
// that a caller can add what happened before and after runcvm-init (docker, runc). A VM restored
// from a template has no firmware or kernel stage: its `restore` (QEMU loading the template and
// the container's devices attached) is followed by the initramfs mounting the root.
std::string format_timings_line(const HostStages& host, const GuestStages& guest);

}  // namespace runcvm::channel
