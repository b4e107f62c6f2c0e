#include "handoff/exec_request.hpp"

#include "common/error.hpp"
#include "handoff/launch_fields.hpp"

namespace runcvm::handoff::detail {

template <>
struct Fields<ExecRequest> {
  static constexpr std::tuple list{field("wait_seconds", &ExecRequest::wait_seconds),
                                   field("process", &ExecRequest::process)};
  static void check(const ExecRequest& request, const Reader& r) {
    if (request.wait_seconds > kExecWaitMaxSeconds)
      throw Error(r.document() + ": field `wait_seconds`: " + std::to_string(request.wait_seconds) + " is above " +
                  std::to_string(kExecWaitMaxSeconds));
  }
};

}  // namespace runcvm::handoff::detail

namespace runcvm::handoff {

namespace {
constexpr const char* kDocument = "exec request";
}  // namespace

std::string to_json_text(const ExecRequest& request) {
  detail::Json out = {{"version", kExecRequestVersion}};
  detail::write_fields(out, request);
  return out.dump();
}

ExecRequest parse_exec_request(std::string_view json_text) {
  detail::Json root = detail::parse_json(json_text, kDocument);
  detail::Reader r(root, "", kDocument);
  r.version("version", kExecRequestVersion, "the runtime and runcvm-exec come from different runcvm versions");
  ExecRequest request = detail::read_object<ExecRequest>(r);
  r.finish();
  return request;
}

}  // namespace runcvm::handoff
