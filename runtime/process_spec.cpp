#include "runtime/process_spec.hpp"

#include "runtime/options.hpp"

namespace runcvm::runtime {

const nlohmann::json& object_at(const nlohmann::json& object, const char* key, const Field& field) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return empty;
  if (!it->is_object()) throw Error(field.describe() + ": expected an object");
  return *it;
}

handoff::Process saved_process(const nlohmann::json& process, std::string_view document, std::string_view prefix) {
  auto field = [&](std::string_view name) { return Field{document, std::string(prefix) + std::string(name)}; };
  handoff::Process p;
  p.args = spec_value<std::vector<std::string>>(process, "args", field("args"), {});
  if (p.args.empty()) throw Error(field("args").describe() + ": no command to run");
  p.env = workload_env(spec_value<std::vector<std::string>>(process, "env", field("env"), {}));
  p.cwd = spec_value<std::string>(process, "cwd", field("cwd"), "/");
  const auto& user = object_at(process, "user", field("user"));
  p.uid = spec_value<std::uint32_t>(user, "uid", field("user.uid"), 0);
  p.gid = spec_value<std::uint32_t>(user, "gid", field("user.gid"), 0);
  p.additional_gids = spec_value<std::vector<std::uint32_t>>(user, "additionalGids", field("user.additionalGids"), {});
  if (user.contains("umask") && !user["umask"].is_null())
    p.umask = spec_value<std::uint32_t>(user, "umask", field("user.umask"), 0);
  p.terminal = spec_value<bool>(process, "terminal", field("terminal"), false);
  const auto& size = object_at(process, "consoleSize", field("consoleSize"));
  if (!size.empty())
    p.console_size = handoff::ConsoleSize{spec_value<unsigned>(size, "height", field("consoleSize.height"), 0),
                                          spec_value<unsigned>(size, "width", field("consoleSize.width"), 0)};
  if (auto it = process.find("rlimits"); it != process.end() && !it->is_null()) {
    if (!it->is_array()) throw Error(field("rlimits").describe() + ": expected a list");
    for (const auto& r : *it) {
      if (!r.is_object()) throw Error(field("rlimits").describe() + ": expected objects, got " + r.dump());
      p.rlimits.push_back({spec_value<std::string>(r, "type", field("rlimits[].type"), ""),
                           spec_value<std::uint64_t>(r, "soft", field("rlimits[].soft"), 0),
                           spec_value<std::uint64_t>(r, "hard", field("rlimits[].hard"), 0)});
    }
  }
  p.no_new_privileges = spec_value<bool>(process, "noNewPrivileges", field("noNewPrivileges"), false);
  if (auto it = process.find("oomScoreAdj"); it != process.end() && !it->is_null())
    p.oom_score_adj = spec_value<int>(process, "oomScoreAdj", field("oomScoreAdj"), 0);
  if (auto it = process.find("capabilities"); it != process.end() && !it->is_null()) {
    const auto& caps = object_at(process, "capabilities", field("capabilities"));
    auto set = [&](const char* name) {
      return spec_value<std::vector<std::string>>(caps, name, field(std::string("capabilities.") + name), {});
    };
    p.capabilities =
        handoff::Capabilities{set("bounding"), set("effective"), set("permitted"), set("inheritable"), set("ambient")};
  }
  return p;
}

}  // namespace runcvm::runtime
