// runcvm-exec: what runc runs in the container for `docker exec`. It hands the original process
// to the VM's exec agent through runcvm-init (handoff::kExecSocket) and relays the session:
// stdin, stdout and stderr as separate streams, the terminal's size, signals, and the exit code.
//   RUNCVM_EXEC_REQUEST=<json> runcvm-exec
// The request (handoff/exec_request.hpp: the process, its whole environment included, and how
// long to wait for the VM) comes in the environment, never in argv, which `ps` shows every user.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "channel/frame.hpp"
#include "channel/input.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/terminal.hpp"
#include "common/unix_socket.hpp"
#include "handoff/exec_request.hpp"
#include "handoff/launch.hpp"
#include "handoff/state_directory.hpp"

namespace runcvm::exec_client {
namespace {

using channel::FrameType;

handoff::ExecRequest request_from_environment(int argc, char** argv) {
  if (argc > 1)
    throw Error("argument " + quote(argv[1]) + ": runcvm-exec takes none (its request is in the environment)");
  const char* request = std::getenv(handoff::kExecRequestVariable);
  if (!request) throw Error(std::string("missing ") + handoff::kExecRequestVariable + " in the environment");
  return handoff::parse_exec_request(request);
}

// The socket appears when the VM's exec agent runs; until then (the VM is booting) we wait.
UniqueFd connect_to_agent(unsigned wait_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  sockaddr_un address = unix_address(handoff::kExecSocket);
  for (;;) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw system_error("creating", "a socket", errno);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
    if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN)
      throw system_error("connecting to", handoff::kExecSocket, errno);
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(
          "the VM's exec agent did not answer within " + std::to_string(wait_seconds) +
          " s: the VM is still booting or failed to (see docker logs); RUNCVM_EXEC_TIMEOUT sets how long exec waits");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class Session {
 public:
  Session(int socket, int signals, bool terminal) : socket_(socket), signals_(signals), terminal_(terminal) {}

  int run(const std::string& process) {
    send(channel::encode(FrameType::exec_open, process));
    if (terminal_) send_window_size();
    for (;;) {
      std::vector<pollfd> fds = {{socket_, POLLIN, 0}, {signals_, POLLIN, 0}};
      if (stdin_open_) fds.push_back({0, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw system_error("polling", "the session", errno);
      }
      for (const auto& p : fds) {
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        if (p.fd == socket_) {
          if (auto code = read_socket()) return *code;
        } else if (p.fd == signals_) {
          forward_signals();
        } else {
          forward_stdin();
        }
      }
    }
  }

 private:
  void send(const std::string& frame) { write_all(socket_, frame, "runcvm-init's exec socket"); }

  void send_window_size() {
    if (auto size = terminal_size(0)) send(channel::encode_resize(size->first, size->second));
  }

  void forward_stdin() {
    if (auto frame = channel::read_input_frame(0, stdin_open_)) send(*frame);
  }

  void forward_signals() {
    signalfd_siginfo info{};
    while (::read(signals_, &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGWINCH)
        send_window_size();
      else
        send(channel::encode_u32(FrameType::signal, info.ssi_signo));
    }
  }

  // The exit code once the session ends.
  std::optional<int> read_socket() {
    bool would_block = false;
    std::string data = read_some(socket_, 1 << 16, would_block, "runcvm-init's exec socket");
    if (would_block) return std::nullopt;
    // Gone without an exit status: the VM stopped, which kills every exec (as runc's do).
    if (data.empty()) return 128 + SIGKILL;
    decoder_.feed(data);
    while (auto frame = decoder_.next()) {
      switch (frame->type) {
        case FrameType::stdout_data:
          write_all(1, frame->payload, "stdout");
          break;
        case FrameType::stderr_data:
          write_all(2, frame->payload, "stderr");
          break;
        case FrameType::error:
          write_all(2, "runcvm: " + frame->payload + "\n", "stderr");
          break;
        case FrameType::exit_status:
          return static_cast<int>(channel::payload_u32(*frame));
        default:
          break;
      }
    }
    return std::nullopt;
  }

  int socket_;
  int signals_;
  bool terminal_;
  bool stdin_open_ = true;
  channel::Decoder decoder_;
};

int run(int argc, char** argv) {
  handoff::ExecRequest request = request_from_environment(argc, argv);
  const handoff::Process& process = request.process;
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT, SIGTSTP})
    sigaddset(&forwarded, sig);
  ::sigprocmask(SIG_BLOCK, &forwarded, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_NONBLOCK | SFD_CLOEXEC));
  UniqueFd socket = connect_to_agent(request.wait_seconds);
  ::fcntl(0, F_SETFL, ::fcntl(0, F_GETFL) | O_NONBLOCK);
  bool terminal = process.terminal && ::isatty(0);
  RawTerminal raw(terminal);
  return Session(socket.get(), signals.get(), terminal).run(handoff::process_to_json_text(process));
}

}  // namespace
}  // namespace runcvm::exec_client

int main(int argc, char** argv) {
  try {
    return runcvm::exec_client::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", runcvm::format_error_line("runcvm-exec", e).c_str());
    return 126;
  }
}
