// The capabilities the container (runcvm-init, its helpers, an exec's client) holds on the host,
// whatever the workload was given: the workload's own hold in the VM.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace runcvm::runtime {

// The container's capabilities, whatever the workload's: Docker's default set plus what the
// helpers need. virtiofsd serves files of every owner (CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
// SETUID, SETGID…), so `--cap-drop ALL` must not reach it; the workload's own (`--cap-add ALL`
// for dockerd in the VM) hold in the VM only, so the host side never has SYS_MODULE, SYS_RAWIO…
// runcvm-init drops SYS_ADMIN before the VM starts unless the workload was given it.
const std::vector<std::string>& container_capabilities();
// `process` (config.json's or an exec's) with exactly container_capabilities(): bounding,
// effective and permitted; no inheritable or ambient ones (the helpers exec nothing needing them).
void set_container_capabilities(nlohmann::json& process);
// An exec's `process` for runcvm-exec, the client that relays the exec's stdio and signals to the
// VM: it needs no capability (it is root, the owner of the exec socket) and gains none, whatever
// the exec asked for (`docker exec --privileged`): the user's sets travel to the VM in the request.
// A process that parses what comes back from the VM holds neither SYS_ADMIN nor a way to regain it.
void drop_exec_client_privileges(nlohmann::json& process);

}  // namespace runcvm::runtime
