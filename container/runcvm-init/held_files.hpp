// Files of the container's root that runcvm-init still uses after the VM starts (Docker's
// /etc/resolv.conf, the host sockets bind-mounted for the VM). Once the VM runs, the share is a
// live, writable view of the same root: root in the VM can rename a directory holding a mount
// point (the mount moves with it) and put a link, a FIFO or a socket of its own at the old path.
// So each is opened before the VM starts, by a path that is still the image's and the runtime's,
// and used afterwards only through that descriptor, never by its path again.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/fd.hpp"

namespace runcvm::container_init {

// Docker's resolv.conf in the container (a bind mount of a file Docker rewrites in place), and
// the most of it read: a resolv.conf is a few lines.
inline constexpr const char* kResolvConfPath = "/etc/resolv.conf";
inline constexpr std::size_t kResolvConfLimit = 64 * 1024;

// A regular file, opened without following a final link or blocking on a FIFO; nothing (an
// empty descriptor) when it is absent or anything but a regular file.
UniqueFd hold_regular_file(const std::string& path);
// Its content now, from the start, at most `limit` bytes (a longer file: Error naming `path`).
std::string read_held_file(int fd, const std::string& path, std::size_t limit);

// A unix socket's inode, held as an O_PATH descriptor; Error naming `path` when it is anything else.
UniqueFd hold_socket(const std::string& path);
// The path that reaches a held descriptor's inode from this process (connect(2) takes it).
std::string held_path(int fd);

// A sealed copy in memory (memfd) of the first at most `limit` bytes of `fd` (the image's kernel
// or initramfs), for QEMU to open through /proc/self/fd: a memfd is readable by any uid, where
// the image's file may be root's alone (Ubuntu's /boot/vmlinuz-* is 0600), and no later write of
// the guest's to the shared file changes what a retried boot loads. Sealed against writes and
// growth, not shrinking: emptying it (ftruncate to 0) gives its memory back while QEMU still holds
// the inherited descriptor. `what` names it in errors.
UniqueFd copy_to_sealed_memory(int fd, const std::string& what, std::size_t limit);
// The same for bytes built here (the image kernel's initramfs): written whole, then sealed.
UniqueFd sealed_memory_from(std::string_view bytes, const std::string& what);

}  // namespace runcvm::container_init
