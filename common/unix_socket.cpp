#include "common/unix_socket.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/error.hpp"

namespace runcvm {

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path)
    throw Error("socket path " + quote(path) + " is longer than " + std::to_string(sizeof address.sun_path - 1) +
                " bytes");
  path.copy(address.sun_path, path.size());
  return address;
}

UniqueFd listen_unix(const std::string& path, int backlog, bool nonblocking) {
  std::string temporary = path + ".tmp";
  sockaddr_un address = unix_address(temporary);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  ::unlink(temporary.c_str());
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), backlog) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0)
    throw system_error("listening on", path, errno);
  return fd;
}

}  // namespace runcvm
