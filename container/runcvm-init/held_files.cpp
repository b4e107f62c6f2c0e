#include "container/runcvm-init/held_files.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.hpp"

namespace runcvm::container_init {

UniqueFd hold_regular_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return UniqueFd();
  return fd;
}

std::string read_held_file(int fd, const std::string& path, std::size_t limit) {
  std::string content(limit + 1, '\0');
  std::size_t size = 0;
  while (size < content.size()) {
    ssize_t n = ::pread(fd, content.data() + size, content.size() - size, static_cast<off_t>(size));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error("reading", path, errno);
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > limit) throw Error(quote(path) + " is larger than " + std::to_string(limit) + " bytes");
  content.resize(size);
  return content;
}

UniqueFd hold_socket(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw system_error("opening the bind-mounted socket", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw system_error("reading", path, errno);
  if (!S_ISSOCK(st.st_mode)) throw Error("the bind-mounted " + quote(path) + " is not a unix socket");
  return fd;
}

std::string held_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

UniqueFd copy_to_sealed_memory(int fd, const std::string& what, std::size_t limit) {
  UniqueFd copy(::memfd_create("runcvm-boot-file", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) throw system_error("copying to memory", what, errno);
  off_t offset = 0;
  for (;;) {
    std::size_t remaining = limit + 1 - static_cast<std::size_t>(offset);
    ssize_t n = ::sendfile(copy.get(), fd, &offset, std::min<std::size_t>(remaining, 1 << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error("copying to memory", what, errno);
    if (n == 0) break;
    if (static_cast<std::size_t>(offset) > limit)
      throw Error(what + " grew past " + std::to_string(limit >> 20) + " MiB while it was copied");
  }
  if (::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    throw system_error("sealing the copy of", what, errno);
  return copy;
}

UniqueFd sealed_memory_from(std::string_view bytes, const std::string& what) {
  UniqueFd copy(::memfd_create("runcvm-boot-file", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) throw system_error("writing to memory", what, errno);
  while (!bytes.empty()) {
    ssize_t n = ::write(copy.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw system_error("writing to memory", what, n < 0 ? errno : EIO);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    throw system_error("sealing", what, errno);
  return copy;
}

}  // namespace runcvm::container_init
