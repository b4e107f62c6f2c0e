// The container's side of `docker exec`: runcvm-exec clients connect to handoff::kExecSocket,
// and each connection becomes a session on the VM's exec port (channel/session.hpp). Runs inside
// runcvm-init's event loop: it says which descriptors it wants polled and handles their events,
// never blocking on a client or on the port, so one slow client cannot hold up the others or the
// workload. What the VM sends is untrusted: a malformed frame ends the exec port (the workload
// runs on), a session that sends past its window is closed, each with a notice (notice.hpp).
// Session 0 of the port also keeps the guest's clock on the host's: the mux answers the guest's
// clock probes and, as its ClockWatch says, asks the guest to measure.
#pragma once

#include <poll.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "channel/session.hpp"
#include "common/fd.hpp"
#include "container/runcvm-init/clock_watch.hpp"
#include "container/runcvm-init/port_writer.hpp"

namespace runcvm::container_init {

class ExecMux {
 public:
  // `port`: QEMU's connection for the exec port. `socket_path`: where clients connect, created
  // once the guest's agent reports that it runs.
  ExecMux(UniqueFd port, std::string socket_path);
  ~ExecMux();

  // How another thread of runcvm-init (the network watcher) sends the guest's agent a frame
  // (channel::kControlSession): queued, then written by the loop that owns the port.
  std::function<void(std::string)> control_sender();

  void add_poll_fds(std::vector<pollfd>& fds) const;
  // Handles p if it is one of ours; returns whether it was.
  bool handle(const pollfd& p);

  // Test-only: what the state machine holds, for the unit and fuzz tests that check it stays
  // bounded (nothing in runcvm-init reads these).
  std::size_t sessions() const { return clients_.size(); }
  std::size_t queued_to_clients() const;
  std::size_t queued_to_port() const { return to_port_.backlog(); }
  bool port_open() const { return static_cast<bool>(port_); }

 private:
  struct Client {
    UniqueFd fd;
    channel::Decoder decoder;  // frames from the client
    channel::CreditedQueue to_client;
    channel::SendWindow stdin_window;  // stdin sent to the guest, not yet taken by the process
    std::size_t output_in_flight = 0;  // output taken from the guest, not yet credited back
    bool opened = false;
    bool finished = false;  // the exit status is queued: close once it is written
  };

  void read_port();
  void close_port();
  void listen();
  void from_guest(channel::SessionFrame frame);
  void accept_clients();
  void read_client(std::uint32_t id, Client& c);
  void write_client(std::uint32_t id, Client& c);
  void drop_client(std::uint32_t id, bool tell_guest);
  void send(const std::string& frame);
  void send_control_frames();

  struct ControlInbox {
    std::mutex lock;
    std::deque<std::string> frames;
    UniqueFd wakeup;  // an eventfd, signalled for each frame queued
  };

  UniqueFd port_;
  PortWriter to_port_;
  std::string socket_path_;
  UniqueFd listener_;
  channel::Decoder decoder_;
  std::map<std::uint32_t, Client> clients_;
  std::uint32_t next_id_ = channel::kControlSession + 1;
  std::shared_ptr<ControlInbox> control_;
  ClockWatch clock_watch_;
};

}  // namespace runcvm::container_init
