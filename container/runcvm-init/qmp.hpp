// QEMU's machine protocol (QMP) on the monitor socket QEMU connects to runcvm-init: how the
// network watcher hot-plugs and unplugs network cards while the VM runs. Messages are JSON lines;
// one command is outstanding at a time, so a reply belongs to the last command, and the events
// that arrive meanwhile are kept for whoever waits on them. QEMU runs the guest: what it sends is
// bounded and parsed, never assumed to be well-formed. (No QMP library among the dependencies;
// the few commands needed are one JSON line each.)
#pragma once

#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/fd.hpp"

namespace runcvm::container_init {

struct QmpMessage {
  enum class Kind { greeting, reply, failure, event } kind;
  nlohmann::json body;  // the greeting, the reply's "return", the failure's "desc", the whole event
};
// One line from QEMU; throws runcvm::Error naming what is wrong with it.
QmpMessage parse_qmp_line(std::string_view line);
// The line that runs `command` with `arguments`.
std::string qmp_command_line(const std::string& command, const nlohmann::json& arguments);

class Qmp {
 public:
  // Reads QEMU's greeting and enters command mode.
  explicit Qmp(UniqueFd socket);
  // Runs one command, passing `fd` along with it (SCM_RIGHTS, for getfd) when it is not -1.
  // Throws runcvm::Error "QEMU's monitor: <command>: <QEMU's reason>".
  nlohmann::json execute(const std::string& command, const nlohmann::json& arguments = nlohmann::json::object(),
                         int fd = -1);
  // Waits for the DEVICE_DELETED event of device `id`; false when `limit` passed first.
  bool wait_for_device_deleted(const std::string& id, std::chrono::milliseconds limit);

 private:
  // The next message, or nullopt at `deadline`; throws when QEMU closed the socket.
  std::optional<QmpMessage> next(std::chrono::steady_clock::time_point deadline);

  UniqueFd socket_;
  std::string buffer_;
  std::deque<nlohmann::json> events_;
};

}  // namespace runcvm::container_init
