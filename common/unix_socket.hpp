// Unix stream sockets by path: the address (refusing a path too long for sun_path rather than
// cutting it), and a listener that appears at its path only once it listens.
#pragma once

#include <sys/un.h>

#include <string>

#include "common/fd.hpp"

namespace runcvm {

sockaddr_un unix_address(const std::string& path);

// Binds at a temporary name, listens, then renames onto `path` (replacing what was there): a
// client that finds the path can connect. SOCK_NONBLOCK when `nonblocking` (for poll loops).
UniqueFd listen_unix(const std::string& path, int backlog, bool nonblocking = false);

}  // namespace runcvm
