// The container's side of `docker exec`: runcvm-exec clients connect to handoff::kExecSocket,
// and each connection becomes a session on the VM's exec port (channel/session.hpp). Runs inside
// runcvm-init's event loop: it says which descriptors it wants polled and handles their events,
// never blocking on a client, so one slow client cannot hold up the others or the workload.
#pragma once

#include <poll.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "channel/session.hpp"
#include "common/fd.hpp"

namespace runcvm::container_init {

class ExecMux {
 public:
  // `port`: QEMU's connection for the exec port. `socket_path`: where clients connect, created
  // once the guest's agent reports that it runs.
  ExecMux(UniqueFd port, std::string socket_path);
  ~ExecMux();

  void add_poll_fds(std::vector<pollfd>& fds) const;
  // Handles p if it is one of ours; returns whether it was.
  bool handle(const pollfd& p);

 private:
  struct Client {
    UniqueFd fd;
    channel::Decoder decoder;      // frames from the client
    channel::CreditedQueue to_client;
    channel::SendWindow stdin_window;  // stdin sent to the guest, not yet taken by the process
    bool opened = false;
    bool finished = false;  // the exit status is queued: close once it is written
  };

  void read_port();
  void from_guest(channel::SessionFrame frame);
  void accept_clients();
  void read_client(std::uint32_t id, Client& c);
  void write_client(std::uint32_t id, Client& c);
  void drop_client(std::uint32_t id, bool tell_guest);
  void send(const std::string& frame);

  UniqueFd port_;
  std::string socket_path_;
  UniqueFd listener_;
  channel::Decoder decoder_;
  std::map<std::uint32_t, Client> clients_;
  std::uint32_t next_id_ = 1;
};

}  // namespace runcvm::container_init
