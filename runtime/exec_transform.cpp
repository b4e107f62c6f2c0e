#include "runtime/exec_transform.hpp"

#include "common/error.hpp"
#include "handoff/exec_request.hpp"
#include "handoff/state_directory.hpp"
#include "runtime/container_capabilities.hpp"
#include "runtime/options.hpp"
#include "runtime/process_spec.hpp"
#include "runtime/vm_capabilities.hpp"

namespace runcvm::runtime {

handoff::Process exec_request(const nlohmann::json& process) {
  if (!process.is_object()) throw Error("process.json: expected a JSON object");
  return saved_process(process, "process.json", "");
}

nlohmann::json transform_exec(const nlohmann::json& process) {
  handoff::Process request = exec_request(process);
  nlohmann::json out = process;
  // runcvm-exec runs as root with a fixed environment; the user's identity, cwd and env travel in
  // the request. The terminal flag and console size stay, so runc still sets up the tty the
  // client relays.
  // RUNCVM_* options reach an exec through its env: Docker merges the container's env with -e.
  Options options = parse_options(spec_value<std::vector<std::string>>(process, "env", {"process.json", "env"}, {}));
  // The same capabilities in the VM as the container's workload got (vm_capabilities.hpp).
  request.capabilities = vm_capabilities(request.capabilities, options.capabilities);
  // The request goes in the environment, not argv: `ps` shows argv to every user of the host.
  out["args"] = {handoff::kExecClient};
  // Nothing on PATH but the state directory's programs: the client runs no other program, and
  // every other directory of the container's root is the VM's to rearrange.
  out["env"] = {"PATH=" + std::string(handoff::kStateBundleBin),
                std::string(handoff::kExecRequestVariable) + "=" +
                    handoff::to_json_text(handoff::ExecRequest{request, options.exec_timeout_seconds})};
  out["cwd"] = "/";
  out["user"] = {{"uid", 0}, {"gid", 0}};
  // The user's capabilities go to the VM in the request; the client holds none.
  drop_exec_client_privileges(out);
  return out;
}

}  // namespace runcvm::runtime
