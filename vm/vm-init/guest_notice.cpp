#include "vm/vm-init/guest_notice.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace runcvm::vm_init {
namespace {

// Abstract (leading NUL): it lives in the VM's network namespace and disappears with its holder.
constexpr char kName[] = "runcvm/guest-notices";

socklen_t notice_address(sockaddr_un& address) {
  std::memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, kName, sizeof kName - 1);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + sizeof kName - 1);
}

}  // namespace

UniqueFd bind_guest_notices() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_un address;
  socklen_t length = notice_address(address);
  int on = 1;
  if (!fd || ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0)
    return UniqueFd();
  return fd;
}

std::optional<std::string> receive_guest_notice(int fd) {
  for (;;) {
    char text[kMaxGuestNotice];
    iovec data{text, sizeof text};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return std::nullopt;
    const cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_CREDENTIALS) continue;
    ucred sender;
    std::memcpy(&sender, CMSG_DATA(header), sizeof sender);
    if (sender.uid != 0) continue;
    return std::string(text, static_cast<std::size_t>(n));
  }
}

void log_guest_notice_to_kernel(std::string_view text) {
  UniqueFd kmsg(::open("/dev/kmsg", O_WRONLY | O_CLOEXEC));
  if (!kmsg) return;
  // KERN_WARNING; a record without its newline is left open for a continuation, and the
  // kernel folds the writer's next record into it.
  std::string record = "<4>runcvm-modprobe: " + std::string(text) + "\n";
  (void)!::write(kmsg.get(), record.data(), record.size());
}

void send_guest_notice(std::string_view text) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return;
  sockaddr_un address;
  socklen_t length = notice_address(address);
  (void)::sendto(fd.get(), text.data(), std::min(text.size(), kMaxGuestNotice), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&address), length);
}

}  // namespace runcvm::vm_init
