// The host<->VM channel protocol: length-prefixed frames over one virtio-serial port, carrying
// the workload's stdin, stdout and stderr as separate streams, signals, window size and the exit
// status. Binary-safe; the decoder is fed bytes as they arrive and never trusts a length.
//   frame := type (1 byte) | length (4 bytes, big-endian) | payload (length bytes)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runcvm::channel {

// The name of the virtio-serial port, as the guest finds it in /sys/class/virtio-ports/*/name.
inline constexpr const char* kPortName = "org.runcvm.channel";

enum class FrameType : std::uint8_t {
  stdin_data = 1,   // host -> guest
  stdin_eof = 2,    // host -> guest: the container's stdin closed
  stdout_data = 3,  // guest -> host
  stderr_data = 4,  // guest -> host
  exit_status = 5,  // guest -> host: 4-byte big-endian code, as a shell reports it (128+n for signal n)
  exit_ack = 6,     // host -> guest: every output byte before the exit status has been written
  signal = 7,       // host -> guest: 4-byte signal number to deliver to the workload
  resize = 8,       // host -> guest: rows, columns (2 bytes each, big-endian)
  error = 9,        // guest -> host: a one-line message explaining why the workload could not start
  stages = 10,      // guest -> host: the guest's start-up stages (boot_stages.hpp), before the exit status
  ready = 11,       // guest -> host: runcvm-vm-init runs (the VM booted); on the exec port: the agent runs
  // Exec sessions (session.hpp): on the exec port every payload starts with a session id.
  exec_open = 12,   // host -> guest: start a session; the payload is the process (handoff::process_to_json_text)
  window = 13,      // both ways: 4-byte count of a session's bytes the receiver has passed on
  exec_close = 14,  // host -> guest: the session's client went away; its processes are killed
  // Live network changes (docker network connect/disconnect), on the exec port as session 0 (its
  // agent outlives the workload's start and runs as root). A failure comes back as `error`, session 0.
  network_add = 15,     // host -> guest: an interface just hot-plugged (handoff::Network JSON, that interface only)
  network_remove = 16,  // host -> guest: the name of an interface whose network is gone
  // Session 0 too: a line for the runtime's log from a program in the VM (what its kernel lacks).
  guest_notice = 17,  // guest -> host
  // Session 0 too: the guest's clock follows the host's (clock_sync.hpp).
  clock_probe = 18,    // guest -> host: 8-byte probe number
  clock_reading = 19,  // host -> guest: the probe number, then the host's CLOCK_REALTIME (8 bytes each)
  clock_check = 20,    // host -> guest: measure the offset now (the host's clock was set)
  // Channel port, after exit_ack: the VM's processes are gone and its filesystems synced; it is
  // powering off, and the host may end QEMU without waiting for the guest kernel's shutdown.
  synced = 21,  // guest -> host
};
inline constexpr std::uint8_t kLastFrameType = 21;
// The session id of the exec port's frames that belong to no exec session.
inline constexpr std::uint32_t kControlSession = 0;

inline constexpr std::size_t kMaxPayload = 1 << 20;

struct Frame {
  FrameType type;
  std::string payload;
};

std::string encode(FrameType type, std::string_view payload = {});
std::string encode_u32(FrameType type, std::uint32_t value);
std::string encode_resize(unsigned rows, unsigned columns);
std::uint32_t payload_u32(const Frame& frame);
// The 4 big-endian bytes of `value`, as every u32 field of the protocol is written.
std::string u32_bytes(std::uint32_t value);
// Rows and columns of a resize payload; nullopt unless it is 4 bytes.
std::optional<std::pair<unsigned, unsigned>> decode_resize(std::string_view payload);

class Decoder {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame, if any; throws runcvm::Error on an unknown type or oversized length.
  std::optional<Frame> next();

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
};

}  // namespace runcvm::channel
