#include "handoff/launch.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "handoff/launch_fields.hpp"

namespace runcvm::handoff {

using detail::Json;
using detail::parse_json;
using detail::read_object;
using detail::Reader;
using detail::to_json;
using detail::write_fields;

std::string process_to_json_text(const Process& process) { return to_json(process).dump(); }

Process parse_process(std::string_view json_text) {
  Json root = parse_json(json_text, "exec request");
  Reader r(root, "", "exec request");
  Process p = read_object<Process>(r);
  r.finish();
  return p;
}

std::string to_json_text(const Launch& launch) {
  Json out = {{"version", launch.version}};
  write_fields(out, launch);
  return out.dump(2) + "\n";
}

Launch parse_launch(std::string_view json_text) {
  Json root = parse_json(json_text, "launch document");
  Reader r(root, "");
  int version =
      r.version("version", kLaunchVersion, "the runtime and the guest programs come from different runcvm versions");
  Launch launch = read_object<Launch>(r);
  launch.version = version;
  r.finish();
  return launch;
}

}  // namespace runcvm::handoff
