// A `docker exec` request: what the runtime hands runcvm-exec (the client runc starts in the
// container) so that it can open a session in the VM. Our own versioned JSON, read as strictly
// as the launch document. It travels in runcvm-exec's environment (kExecRequestVariable), which
// only root can read (/proc/<pid>/environ), never in argv, which `ps` shows every user.
#pragma once

#include <string>
#include <string_view>

#include "handoff/launch.hpp"

namespace runcvm::handoff {

inline constexpr int kExecRequestVersion = 1;
inline constexpr const char* kExecRequestVariable = "RUNCVM_EXEC_REQUEST";
// How long an exec waits for the VM's exec agent while the VM boots (RUNCVM_EXEC_TIMEOUT).
inline constexpr unsigned kExecWaitDefaultSeconds = 120;
inline constexpr unsigned kExecWaitMaxSeconds = 86400;

struct ExecRequest {
  Process process;  // what runs in the VM; the agent gets it as the exec_open frame's payload
  unsigned wait_seconds = kExecWaitDefaultSeconds;
};

std::string to_json_text(const ExecRequest& request);
// Throws runcvm::Error naming the field for anything that does not match the format exactly.
ExecRequest parse_exec_request(std::string_view json_text);

}  // namespace runcvm::handoff
