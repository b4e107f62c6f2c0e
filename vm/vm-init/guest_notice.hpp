// Notices from programs in the VM to the runtime's log: runcvm-modprobe (started by the kernel,
// not by runcvm-vm-init) sends one line to the exec agent, which passes it on to runcvm-init as a
// `guest_notice` frame. Datagrams on an abstract socket, so nothing needs a writable path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/fd.hpp"

namespace runcvm::vm_init {

// One notice's longest text; the rest of a longer one is dropped.
inline constexpr std::size_t kMaxGuestNotice = 512;

// The agent's end: bound, non-blocking, passing its senders' credentials. Empty where it cannot
// be bound (then notices go nowhere).
UniqueFd bind_guest_notices();
// The next notice from root (the kernel's helper runs as root); others are dropped. Empty when
// nothing is waiting.
std::optional<std::string> receive_guest_notice(int fd);
// Also into the VM's kernel log (dmesg), as runcvm-modprobe's.
void log_guest_notice_to_kernel(std::string_view text);
// Best effort: nothing happens when no agent listens.
void send_guest_notice(std::string_view text);

}  // namespace runcvm::vm_init
