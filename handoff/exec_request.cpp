#include "handoff/exec_request.hpp"

#include "common/error.hpp"
#include "handoff/json_reader.hpp"
#include "handoff/process_document.hpp"

namespace runcvm::handoff {

std::string to_json_text(const ExecRequest& request) {
  detail::Json out = {{"version", kExecRequestVersion},
                      {"wait_seconds", request.wait_seconds},
                      {"process", detail::process_json(request.process)}};
  return out.dump();
}

ExecRequest parse_exec_request(std::string_view json_text) {
  const char* document = "exec request";
  detail::Json root = detail::parse_json(json_text, document);
  detail::Reader r(root, "", document);
  r.version("version", kExecRequestVersion, "the runtime and runcvm-exec come from different runcvm versions");
  ExecRequest request;
  request.wait_seconds = r.required<unsigned>("wait_seconds");
  if (request.wait_seconds > kExecWaitMaxSeconds)
    throw Error(std::string(document) + ": field `wait_seconds`: " + std::to_string(request.wait_seconds) +
                " is above " + std::to_string(kExecWaitMaxSeconds));
  detail::Reader process(r.child("process"), "process", document);
  request.process = detail::read_process(process);
  process.finish();
  r.finish();
  return request;
}

}  // namespace runcvm::handoff
