// runcvm-init against a VM that breaks the protocol: malformed frames, frames without a session,
// output past a session's window, a port it never reads. None may end runcvm-init, block its loop
// or grow its memory without bound; the sessions and the channel they break end, the rest go on.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "channel/frame.hpp"
#include "channel/session.hpp"
#include "container/runcvm-init/port_writer.hpp"
#include "container/runcvm-init/supervisor.hpp"
#include "tests/common/exec_mux_rig.hpp"

namespace runcvm {
namespace {

using channel::FrameType;

// The guest's agent is up and `sessions` clients have each opened a session (ids 1..sessions).
void open_sessions(test::ExecMuxRig& rig, int sessions) {
  rig.guest_sends(channel::encode(FrameType::ready));
  rig.step();
  for (int i = 0; i < sessions; ++i) {
    int client = rig.connect_client();
    REQUIRE(client == i);
    rig.client_sends(client, channel::encode(FrameType::exec_open, R"({"args":["sh"]})"));
  }
  rig.step(3);
  REQUIRE(rig.mux().sessions() == static_cast<std::size_t>(sessions));
  rig.guest_receives();
}

TEST_CASE("a malformed frame on the exec port ends exec sessions, not runcvm-init", "[guest][exec][hostile]") {
  test::ExecMuxRig rig;
  open_sessions(rig, 2);
  rig.guest_sends(std::string("\xee\0\0\0\0", 5));  // no such frame type: the framing is lost
  REQUIRE_NOTHROW(rig.step(2));
  CHECK_FALSE(rig.mux().port_open());
  CHECK(rig.mux().sessions() == 0);
  bool closed = false;
  rig.client_receives(0, &closed);
  CHECK(closed);
  CHECK_FALSE(std::filesystem::exists(rig.socket_path()));  // no new client waits for nobody
}

TEST_CASE("an exec frame too short to name a session is dropped", "[guest][exec][hostile]") {
  test::ExecMuxRig rig;
  open_sessions(rig, 1);
  rig.guest_sends(channel::encode(FrameType::window, "ab") + channel::encode(FrameType::stdout_data) +
                  channel::encode_session(FrameType::stdout_data, 1, "still here"));
  REQUIRE_NOTHROW(rig.step(2));
  CHECK(rig.mux().port_open());
  channel::Decoder decoder;
  decoder.feed(rig.client_receives(0));
  auto frame = decoder.next();
  REQUIRE(frame);
  CHECK(frame->type == FrameType::stdout_data);
  CHECK(frame->payload == "still here");
}

TEST_CASE("the exec port's control session: network changes go to the VM, its frames (errors, notices) reach no client",
          "[guest][exec][hostile][hotplug]") {
  test::ExecMuxRig rig;
  open_sessions(rig, 1);
  // The network watcher's thread queues a change; the mux's loop writes it to the guest.
  std::thread([send = rig.mux().control_sender()] {
    send(channel::encode_session(FrameType::network_add, channel::kControlSession, R"({"version":1})"));
  }).join();
  rig.step();
  channel::Decoder from_host;
  from_host.feed(rig.guest_receives());
  auto change = from_host.next();
  REQUIRE(change);
  CHECK(change->type == FrameType::network_add);
  CHECK(channel::split_session(*change).session == channel::kControlSession);

  // The VM answers in session 0 with a reason that forges log lines and escapes, and sends
  // output and an exit status there as if it were a client's: none of it reaches the client,
  // the port stays open, and the real session's output still arrives.
  rig.guest_sends(channel::encode_session(FrameType::error, channel::kControlSession,
                                          "bad\nrunc-init: forged line\x1b[31m" + std::string(100000, 'x')) +
                  channel::encode_session(FrameType::guest_notice, channel::kControlSession,
                                          "kernel lacks\nrunc-init: forged\x1b[31m" + std::string(100000, 'y')) +
                  channel::encode_session(FrameType::guest_notice, 1, "a notice in a client's session") +
                  channel::encode_session(FrameType::stdout_data, channel::kControlSession, "not for you") +
                  channel::encode_session_u32(FrameType::exit_status, channel::kControlSession, 0) +
                  channel::encode_session(FrameType::stdout_data, 1, "still here"));
  REQUIRE_NOTHROW(rig.step(4));
  CHECK(rig.mux().port_open());
  CHECK(rig.mux().sessions() == 1);
  channel::Decoder decoder;
  decoder.feed(rig.client_receives(0));
  auto frame = decoder.next();
  REQUIRE(frame);
  CHECK(frame->payload == "still here");
  CHECK_FALSE(decoder.next());
}

TEST_CASE("a session the VM floods past its window is closed; the others go on", "[guest][exec][hostile]") {
  test::ExecMuxRig rig;
  open_sessions(rig, 2);
  // Client 0 reads nothing; the guest ignores the window and keeps sending for session 1.
  std::string chunk = channel::encode_session(FrameType::stdout_data, 1, std::string(channel::kSessionChunk, 'x'));
  for (int i = 0; i < 64 && rig.mux().sessions() == 2; ++i) {
    rig.guest_sends(chunk);
    rig.step();
    CHECK(rig.mux().queued_to_clients() <= 4 * channel::kSessionWindow + chunk.size());
  }
  CHECK(rig.mux().sessions() == 1);
  CHECK(rig.guest_receives().find(channel::encode_session(FrameType::exec_close, 1)) != std::string::npos);
  rig.guest_sends(channel::encode_session(FrameType::stdout_data, 2, "session 2"));
  rig.step(2);
  CHECK(rig.client_receives(1).find("session 2") != std::string::npos);
}

TEST_CASE("a VM that never reads its exec port does not block runcvm-init or grow its queue",
          "[guest][exec][hostile]") {
  test::ExecMuxRig rig;
  open_sessions(rig, 8);
  // Every client pushes stdin as fast as it may; the guest reads none of it.
  std::string input = channel::encode(FrameType::stdin_data, std::string(channel::kSessionChunk - 16, 'i'));
  for (int round = 0; round < 40; ++round) {
    for (int client = 0; client < 8; ++client) rig.client_sends(client, input);
    rig.step();
    CHECK(rig.mux().queued_to_port() <= container_init::kPortBacklogLimit + 2 * channel::kSessionChunk);
  }
  // Output for sessions nobody has makes credit to send back: a guest that floods it without
  // reading is read no further once the queue is full.
  std::string stray = channel::encode_session(FrameType::stdout_data, 999, std::string(4096, 'o'));
  for (int round = 0; round < 2000; ++round) {
    rig.guest_sends(stray);
    rig.step();
  }
  CHECK(rig.mux().queued_to_port() <= container_init::kPortBacklogLimit + 2 * channel::kSessionChunk);
  CHECK(rig.mux().port_open());
  CHECK(rig.mux().sessions() == 8);
}

TEST_CASE("a port writer never blocks on a peer that does not read", "[guest][hostile]") {
  int ends[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
  container_init::PortWriter writer(ends[0]);
  std::string frame(65536, 'f');
  for (int i = 0; i < 64; ++i) writer.send(frame);  // 4 MiB; the socket takes a few hundred KiB
  CHECK(writer.congested());
  CHECK(writer.wants_write());
  char buffer[65536];
  std::size_t drained = 0;
  while (writer.wants_write()) {
    ssize_t n = ::read(ends[1], buffer, sizeof buffer);
    REQUIRE(n > 0);
    drained += static_cast<std::size_t>(n);
    writer.flush();
  }
  ::close(ends[0]);
  for (ssize_t n; (n = ::recv(ends[1], buffer, sizeof buffer, MSG_DONTWAIT)) > 0;)
    drained += static_cast<std::size_t>(n);
  CHECK(drained == 64 * frame.size());
  ::close(ends[1]);
}

// The supervisor's channel: the VM's end of a socketpair, the workload's stdout and stderr pipes.
struct SupervisorRig {
  int guest = -1, channel = -1, out[2] = {-1, -1}, err[2] = {-1, -1};
  std::string exec_socket = "/tmp/runcvm-supervisor-test-" + std::to_string(::getpid());
  container_init::ExecMux exec{UniqueFd(), exec_socket};
  container_init::Stages stages;
  std::unique_ptr<container_init::Supervisor> supervisor;
  SupervisorRig() {
    int ends[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
    channel = ends[0];
    guest = ends[1];
    REQUIRE(::pipe2(out, O_CLOEXEC | O_NONBLOCK) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC | O_NONBLOCK) == 0);
    supervisor = std::make_unique<container_init::Supervisor>(
        container_init::SupervisorSettings{
            .channel = channel, .stdin_fd = -1, .stdout_fd = out[1], .stderr_fd = err[1]},
        exec, stages);
  }
  ~SupervisorRig() {
    for (int fd : {guest, channel, out[0], out[1], err[0], err[1]}) ::close(fd);
  }
  static std::string read_all(int fd) {
    std::string all;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT)) > 0 || (n < 0 && errno == ENOTSOCK);) {
      if (n < 0) n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      all.append(buffer, static_cast<std::size_t>(n));
    }
    return all;
  }
};

TEST_CASE("the channel: frames with bad payloads are dropped, a malformed frame stops only the channel",
          "[guest][hostile]") {
  SupervisorRig rig;
  auto& supervisor = *rig.supervisor;
  REQUIRE_NOTHROW(supervisor.from_channel(
      channel::encode(FrameType::exit_status, "abc") + channel::encode(FrameType::stages, "not a report") +
      channel::encode(FrameType::stdout_data, "out") + channel::encode(FrameType::stderr_data, "err")));
  CHECK_FALSE(supervisor.exit_code());
  CHECK_FALSE(rig.stages.complete);
  CHECK(SupervisorRig::read_all(rig.out[0]) == "out");
  CHECK(SupervisorRig::read_all(rig.err[0]) == "err");

  supervisor.from_channel(channel::encode_u32(FrameType::exit_status, 42) +
                          channel::encode_u32(FrameType::exit_status, 7));
  CHECK(supervisor.exit_code() == 42);  // the first status stands
  CHECK(SupervisorRig::read_all(rig.guest) == channel::encode(FrameType::exit_ack));

  REQUIRE_NOTHROW(supervisor.from_channel(std::string("\x03\xff\xff\xff\xff", 5) +
                                          channel::encode(FrameType::stdout_data, "lost")));
  CHECK_FALSE(supervisor.channel_open());
  CHECK(SupervisorRig::read_all(rig.out[0]).empty());
  REQUIRE_NOTHROW(supervisor.from_channel(channel::encode(FrameType::stdout_data, "after")));
  CHECK(SupervisorRig::read_all(rig.out[0]).empty());
}

TEST_CASE("`synced` stops QEMU only after the exit status; before it, a VM cannot end its run early",
          "[guest][hostile]") {
  pid_t qemu = ::fork();
  REQUIRE(qemu >= 0);
  if (qemu == 0) {
    ::pause();
    ::_exit(0);
  }
  {
    SupervisorRig rig;
    container_init::Supervisor supervisor(
        container_init::SupervisorSettings{
            .channel = rig.channel, .qemu = qemu, .stdin_fd = -1, .stdout_fd = rig.out[1], .stderr_fd = rig.err[1]},
        rig.exec, rig.stages);
    int status = 0;
    supervisor.from_channel(channel::encode(FrameType::synced));
    // No exit status yet: QEMU runs on (a SIGKILL would have ended it well within this time).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(::waitpid(qemu, &status, WNOHANG) == 0);
    supervisor.from_channel(channel::encode_u32(FrameType::exit_status, 3) + channel::encode(FrameType::synced));
    REQUIRE(::waitpid(qemu, &status, 0) == qemu);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    CHECK(supervisor.exit_code() == 3);
  }
}

}  // namespace
}  // namespace runcvm
