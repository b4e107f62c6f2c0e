#include "vm/vm-init/exec_agent.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "channel/boot_stages.hpp"
#include "channel/session.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/reap.hpp"
#include "common/terminal.hpp"
#include "handoff/launch.hpp"
#include "handoff/network.hpp"
#include "vm/vm-init/guest_clock.hpp"
#include "vm/vm-init/guest_notice.hpp"
#include "vm/vm-init/network_config.hpp"
#include "vm/vm-init/system_setup.hpp"
#include "vm/vm-init/workload.hpp"

namespace runcvm::vm_init {
namespace {

using channel::FrameType;
using Clock = std::chrono::steady_clock;

// Output a session's processes leave behind after it exits (background jobs holding the pipes)
// is collected while it keeps coming, as the main workload's is.
constexpr auto kOutputGrace = std::chrono::milliseconds(200);
// How long a hot-plugged NIC may take to appear in the VM (the guest's PCI hot-plug under TCG).
constexpr auto kHotplugLimit = std::chrono::seconds(30);
// Distinct notices passed on per boot: the same one (a module asked for again and again) once.
constexpr std::size_t kMaxDistinctNotices = 64;

struct Session {
  Workload workload;
  std::string stdin_pending;  // received from the host, not yet taken by the process
  bool stdin_eof = false;
  channel::SendWindow output;
  std::optional<int> exit_code;
  Clock::time_point last_output{};

  bool outputs_open() const {
    return workload.terminal ? static_cast<bool>(workload.stdin_write) : workload.stdout_read || workload.stderr_read;
  }
  // The fd the process reads its stdin from, on our side: a pipe, or the pty master.
  int stdin_fd() const { return workload.stdin_write.get(); }
};

class Agent {
 public:
  Agent(int port, int signals, UniqueFd clock_set, UniqueFd setup_done)
      : port_(port),
        signals_(signals),
        clock_set_(std::move(clock_set)),
        setup_done_(std::move(setup_done)),
        notices_(bind_guest_notices()) {}

  [[noreturn]] void run() {
    send(clock_.start(channel::realtime_ns()));
    // `ready` (sessions may come) once PID 1 has set the VM up (end_setup); the clock is set meanwhile.
    if (!setup_done_) send(channel::encode(FrameType::ready));
    for (;;) {
      std::vector<pollfd> fds = {{port_, POLLIN, 0}, {signals_, POLLIN, 0}, {notices_.get(), POLLIN, 0}};
      std::vector<std::uint32_t> owners = {0, 0, 0};
      if (setup_done_) {
        fds.push_back({setup_done_.get(), POLLIN, 0});
        owners.push_back(0);
      }
      for (auto& [id, s] : sessions_) add_session_fds(s, id, fds, owners);
      int ready = ::poll(fds.data(), fds.size(), poll_timeout());
      if (ready < 0 && errno != EINTR) throw system_error("polling", "the exec port", errno);
      for (std::size_t i = 0; ready > 0 && i < fds.size(); ++i) {
        const pollfd& p = fds[i];
        if (!p.revents) continue;
        if (p.fd == port_)
          read_port();
        else if (p.fd == signals_)
          reap();
        else if (p.fd == notices_.get())
          pass_notices();
        else if (setup_done_ && p.fd == setup_done_.get())
          end_setup();
        else if (auto it = sessions_.find(owners[i]); it != sessions_.end())
          serve(it->second, owners[i], p);
      }
      finish_sessions();
      clock_.give_up_if_late(channel::realtime_ns());
      if (periodic_clock_check_.due(channel::monotonic_ns()))
        send(clock_.start(channel::realtime_ns(), channel::kPeriodicClockProbes));
      if (clock_.ended() > 0 && !clock_.running()) clock_set_.reset();  // the workload may start
    }
  }

 private:
  void send(const std::string& frame) {
    if (!frame.empty()) write_all(port_, frame, "the exec port");
  }

  // PID 1 closed its end of the pipe (its only use): the VM is set up.
  void end_setup() {
    setup_done_.reset();
    send(channel::encode(FrameType::ready));
    for (const auto& change : pending_network_changes_) start_network_change(change);
    pending_network_changes_.clear();
  }

  void add_session_fds(const Session& s, std::uint32_t id, std::vector<pollfd>& fds,
                       std::vector<std::uint32_t>& owners) {
    auto watch = [&](const UniqueFd& fd, int events) {
      if (!fd || !events) return;
      fds.push_back({fd.get(), static_cast<short>(events), 0});
      owners.push_back(id);
    };
    int input = s.output.available() > 0 ? POLLIN : 0;  // output is read only while the window allows
    int output = s.stdin_pending.empty() ? 0 : POLLOUT;
    const Workload& w = s.workload;
    if (w.terminal) {  // one fd, the pty master, both ways
      watch(w.stdin_write, input | output);
      return;
    }
    watch(w.stdin_write, output);
    watch(w.stdout_read, input);
    watch(w.stderr_read, input);
  }

  int poll_timeout() const {
    bool draining = false;
    for (const auto& [id, s] : sessions_) draining |= s.exit_code.has_value();
    int timeout = draining ? static_cast<int>(kOutputGrace.count() / 2) : -1;
    for (int clock :
         {clock_.timeout_ms(channel::realtime_ns()), periodic_clock_check_.timeout_ms(channel::monotonic_ns())})
      if (timeout < 0 || (clock >= 0 && clock < timeout)) timeout = clock;
    return timeout;
  }

  void serve(Session& s, std::uint32_t id, const pollfd& p) {
    const Workload& w = s.workload;
    bool is_stdin_pipe = !w.terminal && p.fd == w.stdin_write.get();
    bool is_err = w.stderr_read && p.fd == w.stderr_read.get();
    if (is_stdin_pipe) {
      if (p.revents & POLLOUT)
        write_stdin(s, id);
      else
        drop_stdin(s, id);  // POLLERR: the process closed its stdin
      return;
    }
    if (w.terminal && (p.revents & POLLOUT)) write_stdin(s, id);
    // The terminal's master may have closed above (its process and every holder of it are gone).
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && (!w.terminal || w.stdin_write))
      forward_output(s, id, p.fd, is_err);
  }

  void forward_output(Session& s, std::uint32_t id, int fd, bool is_err) {
    bool would_block = false;
    std::size_t limit = std::min(channel::kSessionChunk, s.output.available());
    if (limit == 0) return;
    std::string data = read_some(fd, limit, would_block, "a session's output");
    if (would_block) return;
    if (data.empty()) {
      if (s.workload.terminal)
        s.workload.stdin_write.reset();
      else if (is_err)
        s.workload.stderr_read.reset();
      else
        s.workload.stdout_read.reset();
      return;
    }
    s.output.sent(data.size());
    s.last_output = Clock::now();
    send(channel::encode_session(is_err ? FrameType::stderr_data : FrameType::stdout_data, id, data));
  }

  void write_stdin(Session& s, std::uint32_t id) {
    if (!s.stdin_fd() || s.stdin_pending.empty()) return;
    ssize_t n = ::write(s.stdin_fd(), s.stdin_pending.data(), s.stdin_pending.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {  // the process closed its stdin (EPIPE): what is left can never be taken
      drop_stdin(s, id);
      return;
    }
    s.stdin_pending.erase(0, static_cast<std::size_t>(n));
    send(channel::encode_session_u32(FrameType::window, id, static_cast<std::uint32_t>(n)));
    close_stdin_if_done(s);
  }

  void drop_stdin(Session& s, std::uint32_t id) {
    if (!s.stdin_pending.empty())
      send(channel::encode_session_u32(FrameType::window, id, static_cast<std::uint32_t>(s.stdin_pending.size())));
    s.stdin_pending.clear();
    s.stdin_eof = true;
    if (!s.workload.terminal) s.workload.stdin_write.reset();
  }

  void close_stdin_if_done(Session& s) {
    // A pty has no end of input other than ^D, which the client's terminal sends itself.
    if (s.stdin_eof && s.stdin_pending.empty() && !s.workload.terminal) s.workload.stdin_write.reset();
  }

  void read_port() {
    bool would_block = false;
    std::string data = read_some(port_, 1 << 16, would_block, "the exec port");
    if (would_block) return;
    if (data.empty()) ::_exit(0);  // the host side is gone: the VM is going down
    decoder_.feed(data);
    while (auto frame = decoder_.next()) handle(channel::split_session(std::move(*frame)));
  }

  void handle(channel::SessionFrame frame) {
    if (frame.session == channel::kControlSession) {
      if (frame.type == FrameType::network_add || frame.type == FrameType::network_remove) {
        // Until PID 1 has configured the container's own networks, a change waits behind them.
        if (setup_done_)
          pending_network_changes_.push_back(std::move(frame));
        else
          start_network_change(frame);
        return;
      }
      if (frame.type == FrameType::clock_reading) take_clock_reading(frame.payload);
      if (frame.type == FrameType::clock_check) send(clock_.start(channel::realtime_ns()));
      return;
    }
    if (frame.type == FrameType::exec_open) {
      open_session(frame.session, frame.payload);
      return;
    }
    auto it = sessions_.find(frame.session);
    if (it == sessions_.end()) return;  // a session that ended while this was on its way
    Session& s = it->second;
    Workload& w = s.workload;
    switch (frame.type) {
      case FrameType::stdin_data:
        if (!w.stdin_write || (s.stdin_eof && !w.terminal)) {
          send(channel::encode_session_u32(FrameType::window, frame.session,
                                           static_cast<std::uint32_t>(frame.payload.size())));
          break;
        }
        s.stdin_pending += frame.payload;
        write_stdin(s, frame.session);
        break;
      case FrameType::stdin_eof:
        s.stdin_eof = true;
        close_stdin_if_done(s);
        break;
      case FrameType::window:
        if (auto credit = channel::session_u32(frame)) s.output.credited(*credit);
        break;
      case FrameType::signal:
        if (auto sig = channel::session_u32(frame); sig && !s.exit_code) ::kill(w.pid, static_cast<int>(*sig));
        break;
      case FrameType::resize:
        if (auto size = channel::decode_resize(frame.payload); size && w.terminal && w.stdin_write)
          set_terminal_size(w.stdin_write.get(), size->first, size->second);
        break;
      case FrameType::exec_close:
        // Nobody is left to read or wait: the session's processes go, as an exec's do in a
        // container whose runc process is killed.
        if (!s.exit_code) ::kill(-w.pid, SIGKILL);
        sessions_.erase(it);
        break;
      default:
        break;
    }
  }

  void open_session(std::uint32_t id, const std::string& request) {
    Session s;
    try {
      s.workload = start_workload(handoff::parse_process(request));
    } catch (const Error& e) {
      // As runc fails an exec it cannot start: the reason, and the shell's code for it.
      send(channel::encode_session(FrameType::error, id, e.what()));
      send(channel::encode_session_u32(FrameType::exit_status, id,
                                       static_cast<std::uint32_t>(start_failure_exit_code(e))));
      return;
    }
    for (int fd : {s.workload.stdin_write.get(), s.workload.stdout_read.get(), s.workload.stderr_read.get()})
      if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    sessions_.insert_or_assign(id, std::move(s));
  }

  void take_clock_reading(const std::string& payload) {
    std::optional<channel::ClockCorrection> done;
    std::string next = clock_.on_reading(payload, channel::realtime_ns(), &done);
    if (!next.empty()) send(next);
    if (!done) return;
    try {
      apply_clock_correction(*done);
      // A step's own measurement may have been taken while the guest was busy (at boot: 6.4 ms
      // off, its best round trip 13 ms): measured again at once, before the workload starts,
      // rather than later, when a short workload may be ending and the VM with it.
      if (done->action == channel::ClockAction::step && clock_.ended() == 1) send(clock_.start(channel::realtime_ns()));
    } catch (const Error& e) {
      if (!clock_failed_)
        send(channel::encode_session(FrameType::guest_notice, channel::kControlSession,
                                     std::string("the VM's clock cannot follow the host's: ") + e.what()));
      clock_failed_ = true;
    }
  }

  // A network change runs in a child: waiting for a hot-plugged NIC must not hold up exec
  // sessions. Its failure comes back to runcvm-init as one line.
  void start_network_change(const channel::SessionFrame& frame) {
    int reason[2];
    if (::pipe2(reason, O_CLOEXEC) != 0) {
      send(channel::encode_session(FrameType::error, channel::kControlSession, "no pipe for a network change"));
      return;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(reason[0]);
      clock_set_.reset();  // PID 1 waits for its end to close, not for this child's hot-plug wait
      try {
        if (frame.type == FrameType::network_add)
          configure_hotplugged_interface(handoff::parse_network(frame.payload), kHotplugLimit);
        else
          unconfigure_interface(frame.payload);
        ::_exit(0);
      } catch (const std::exception& e) {
        std::string line = e.what();
        (void)!::write(reason[1], line.data(), std::min<std::size_t>(line.size(), 1024));
        ::_exit(1);
      }
    }
    ::close(reason[1]);
    if (pid < 0) {
      ::close(reason[0]);
      send(channel::encode_session(FrameType::error, channel::kControlSession, "could not fork for a network change"));
      return;
    }
    network_changes_.emplace(pid, UniqueFd(reason[0]));
  }

  void finish_network_change(pid_t pid, int status) {
    auto it = network_changes_.find(pid);
    if (it == network_changes_.end()) return;
    if (status != 0) {
      char line[1024];
      ssize_t n = ::read(it->second.get(), line, sizeof line);  // the child wrote it before it exited
      send(channel::encode_session(FrameType::error, channel::kControlSession,
                                   n > 0 ? std::string(line, static_cast<std::size_t>(n)) : "a network change failed"));
    }
    network_changes_.erase(it);
  }

  // Anything in the VM may write here: the text is bounded, and runcvm-init prints it as the VM's
  // word (one printable line).
  void pass_notices() {
    while (auto line = receive_guest_notice(notices_.get())) {
      if (seen_notices_.size() >= kMaxDistinctNotices || !seen_notices_.insert(*line).second) continue;
      log_guest_notice_to_kernel(*line);
      send(channel::encode_session(FrameType::guest_notice, channel::kControlSession, *line));
    }
  }

  void reap() {
    for (auto [pid, status] : reap_children(signals_)) {
      finish_network_change(pid, status);
      for (auto& [id, s] : sessions_)
        if (s.workload.pid == pid) {
          s.exit_code = exit_code_of(status);
          s.last_output = Clock::now();
        }
    }
  }

  // A session ends once its process has exited and its output is drained (or has stopped coming):
  // its exit status follows every byte of its output on the port.
  void finish_sessions() {
    auto now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      Session& s = it->second;
      bool idle = now - s.last_output >= kOutputGrace && s.output.available() > 0;
      if (s.exit_code && (!s.outputs_open() || idle)) {
        send(channel::encode_session_u32(FrameType::exit_status, it->first, static_cast<std::uint32_t>(*s.exit_code)));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }

  int port_;
  int signals_;
  UniqueFd clock_set_;   // closed once the first clock measurement ended: PID 1 waits for it
  UniqueFd setup_done_;  // PID 1 closes its end once the VM is set up (network included)
  std::vector<channel::SessionFrame> pending_network_changes_;  // sent while PID 1 set the VM up
  ClockMeasurement clock_;
  PeriodicClockCheck periodic_clock_check_{channel::monotonic_ns()};
  bool clock_failed_ = false;
  channel::Decoder decoder_;
  std::map<std::uint32_t, Session> sessions_;
  std::map<pid_t, UniqueFd> network_changes_;  // children applying a network change, and their reason pipes
  UniqueFd notices_;                           // runcvm-modprobe's lines (guest_notice.hpp); may be empty
  std::set<std::string> seen_notices_;
};

}  // namespace

void run_exec_agent(UniqueFd port, UniqueFd clock_set, UniqueFd setup_done) {
  try {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    UniqueFd signals(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!port) port = UniqueFd(open_virtio_port(channel::kExecPortName));
    Agent(port.get(), signals.get(), std::move(clock_set), std::move(setup_done)).run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", format_error_line("runcvm exec agent", e).c_str());
    ::_exit(1);
  }
}

}  // namespace runcvm::vm_init
