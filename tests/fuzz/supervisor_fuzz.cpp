// runcvm-init's channel state machine on arbitrary bytes from the VM, fed in arbitrary pieces:
// malformed frames, bad payloads, repeated exit statuses. Nothing may escape from_channel().
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "container/runcvm-init/supervisor.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int sink = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) std::abort();
  {
    runcvm::container_init::ExecMux exec(runcvm::UniqueFd(), "/tmp/runcvm-supervisor-fuzz.sock");
    runcvm::container_init::Stages stages;
    runcvm::container_init::Supervisor supervisor(
        {.channel = ends[0], .stdin_fd = -1, .stdout_fd = sink, .stderr_fd = sink}, exec, stages);
    std::string_view input(reinterpret_cast<const char*>(data), size);
    // The first byte sets the size of the pieces the bytes arrive in.
    std::size_t piece = input.empty() ? 1 : 1 + static_cast<unsigned char>(input[0]) % 64;
    if (!input.empty()) input.remove_prefix(1);
    for (std::size_t at = 0; at < input.size(); at += piece) supervisor.from_channel(input.substr(at, piece));
  }
  ::close(ends[0]);
  ::close(ends[1]);
  return 0;
}
