// The end of the VM's console while it boots the image's own kernel: when that kernel's
// initramfs cannot reach runcvm-vm-init (no virtiofs module, say), the VM powers off without a
// word on the channel, and its console says why. The console is the guest's output, so it is
// kept bounded (the last 16 KiB) and only printable text of it is ever shown.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/fd.hpp"

namespace runcvm::container_init {

// The last `count` lines of `console` that have text, without the kernel's own timestamped
// messages, each cut to 200 characters of printable ASCII, joined with " / ".
std::string console_summary(std::string_view console, std::size_t count);

class ConsoleTail {
 public:
  // A pipe whose write end QEMU inherits, and a thread that keeps what arrives on the read end.
  ConsoleTail();
  ~ConsoleTail();
  ConsoleTail(const ConsoleTail&) = delete;
  ConsoleTail& operator=(const ConsoleTail&) = delete;

  int write_fd() const { return write_.get(); }
  // Closes this side's copy of the write end, once QEMU holds its own.
  void release_write_end() { write_.reset(); }
  std::string summary() const;

 private:
  // Shared with the reader thread, which may outlive this object (it ends when QEMU does).
  struct Kept {
    UniqueFd read;
    std::mutex mutex;
    std::string text;
  };
  std::shared_ptr<Kept> kept_;
  UniqueFd write_;
};

}  // namespace runcvm::container_init
