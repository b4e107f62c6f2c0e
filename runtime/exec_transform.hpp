// The `exec` transform: runc's process.json for `docker exec` in, a process that runs the
// guest's exec client in the container out; the client carries the original command into the VM.
#pragma once

#include <nlohmann/json.hpp>

#include "handoff/launch.hpp"

namespace runcvm::runtime {

// The request for the VM: args, user, groups, cwd, env, terminal and console size as given.
handoff::Process exec_request(const nlohmann::json& process);
// The process runc starts in the container instead.
nlohmann::json transform_exec(const nlohmann::json& process);

}  // namespace runcvm::runtime
