#include "container/runcvm-init/notice.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "handoff/state_directory.hpp"

namespace runcvm::container_init {
namespace {

// A guest that misbehaves in a loop must not fill the state directory's tmpfs.
constexpr off_t kLogLimit = 256 * 1024;
bool to_stderr = false;

}  // namespace

void set_notices_to_stderr(bool yes) { to_stderr = yes; }

void notice(std::string_view message) {
  std::string line = "runcvm-init: " + std::string(message) + "\n";
  if (to_stderr) (void)!::write(2, line.data(), line.size());
  std::string path = handoff::kInitLog;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size < kLogLimit) (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

}  // namespace runcvm::container_init
