#include "runtime/command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "handoff/kvm_verdict.hpp"
#include "handoff/vm_template.hpp"
#include "runtime/create_transform.hpp"
#include "runtime/exec_transform.hpp"
#include "runtime/process_spec.hpp"

namespace runcvm::runtime {
namespace {

using Json = nlohmann::json;

Json read_json(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
}

bool same_file(const fs::path& a, const fs::path& b) {
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool executable(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
  char text[64];
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<long long>(nanos));
  return text;
}

void append_line(const fs::path& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;  // logging must never be why a container fails
  std::string data = line + "\n";
  [[maybe_unused]] auto written = ::write(fd, data.data(), data.size());
  ::close(fd);
}

// The debug log names each variable, never its value: env values hold secrets (tokens,
// passwords) that an operator turning on debugging did not mean to copy to disk.
Json redacted_env(const Json& env) {
  if (!env.is_array()) return env;
  Json out = Json::array();
  for (const auto& entry : env) {
    std::string text = entry.is_string() ? entry.get<std::string>() : "";
    out.push_back(text.substr(0, text.find('=')) + "=(redacted)");
  }
  return out;
}

Json with_redacted_env(Json document) {
  if (document.is_object() && document.contains("env")) document["env"] = redacted_env(document["env"]);
  if (document.is_object() && document.contains("process") && document["process"].is_object())
    document["process"] = with_redacted_env(document["process"]);
  return document;
}

// The runtime's directories on /run (emptied at every boot) are root's alone: created, or made so.
void make_root_only_directory(const fs::path& path) {
  ::mkdir(path.c_str(), 0700);
  ::chmod(path.c_str(), 0700);
}

// The sources of the spec's bind mounts that are unix sockets: host paths the operator gave
// (-v SOURCE:…), never the image's.
std::set<std::string> socket_sources(const Json& spec) {
  std::set<std::string> sockets;
  if (!spec.is_object() || !spec.contains("mounts") || !spec["mounts"].is_array()) return sockets;
  for (const auto& m : spec["mounts"]) {
    if (!m.is_object() || !m.contains("source") || !m["source"].is_string()) continue;
    // Docker says type "bind"; containerd and podman may say "none" with a bind option.
    bool bind = m.value("type", "") == "bind";
    if (m.contains("options") && m["options"].is_array())
      for (const auto& option : m["options"]) bind = bind || option == "bind" || option == "rbind";
    if (!bind) continue;
    std::string source = m["source"].get<std::string>();
    struct stat st {};
    if (::stat(source.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) sockets.insert(source);
  }
  return sockets;
}

std::vector<std::string> rewrite_bundle(const RuncCall& call, const fs::path& self, bool debug) {
  fs::path bundle = call.bundle ? fs::path(*call.bundle) : fs::current_path();
  fs::path config = bundle / "config.json";
  Json spec = in_context(config.string(), [&] { return read_json(config); });
  CreateInput input;
  input.spec = spec;
  std::string resolv_conf;  // the host file dockerd mounts at /etc/resolv.conf
  if (spec.is_object() && spec.contains("mounts") && spec["mounts"].is_array())
    for (const auto& m : spec["mounts"])
      if (m.is_object() && m.value("destination", "") == "/etc/resolv.conf" && m.contains("source") &&
          m["source"].is_string())
        resolv_conf = m["source"].get<std::string>();
  input.host = gather_host_facts(self, resolv_conf);
  input.host.socket_sources = socket_sources(spec);
  std::string root = spec.is_object() ? spec_value<std::string>(object_at(spec, "root", {"config.json", "root"}),
                                                                "path", {"config.json", "root.path"}, "rootfs")
                                      : "rootfs";
  fs::path rootfs = fs::path(root).is_absolute() ? fs::path(root) : bundle / root;
  input.image = gather_image_facts(rootfs);
  input.bundle = gather_bundle_facts(input.host.bundle_root);
  input.launch_file = (bundle / "runcvm-launch.json").string();
  CreateResult result = transform_create(input);
  for (const auto& mount : result.spec["mounts"])
    if (mount.value("destination", "") == handoff::kKvmVerdictDirectory) {
      make_root_only_directory(fs::path(handoff::kKvmVerdictHostDirectory).parent_path());
      make_root_only_directory(handoff::kKvmVerdictHostDirectory);
    } else if (mount.value("destination", "") == handoff::kTemplateDirectory) {
      make_root_only_directory(fs::path(handoff::kTemplateHostDirectory).parent_path());
      make_root_only_directory(handoff::kTemplateHostDirectory);
    }
  // Root-only: it holds the workload's whole environment (secrets included).
  write_file_atomic(input.launch_file, handoff::to_json_text(result.launch), fs::perms(0600));
  write_file_atomic(config, result.spec.dump(), fs::perms(0600));
  std::vector<std::string> log;
  if (debug) {
    log.push_back("spec patch: " + Json::diff(with_redacted_env(spec), with_redacted_env(result.spec)).dump());
    log.push_back("launch: " + with_redacted_env(Json::parse(handoff::to_json_text(result.launch))).dump());
  }
  return log;
}

std::vector<std::string> rewrite_process(const RuncCall& call, bool debug) {
  fs::path file = *call.process;
  Json process = in_context(file.string(), [&] { return read_json(file); });
  Json rewritten = in_context(file.string(), [&] { return transform_exec(process); });
  write_file_atomic(file, rewritten.dump(), fs::perms(0600));
  std::vector<std::string> log;
  if (debug)
    log.push_back("process patch: " + Json::diff(with_redacted_env(process), with_redacted_env(rewritten)).dump());
  return log;
}

// Root-only, and bounded: past kDebugLogLimit the log moves to debug.log.1 (the one before is
// dropped), so a debugging session left on cannot fill /run.
void prepare_debug_log() {
  fs::path log(kDebugLog);
  make_root_only_directory(log.parent_path());
  struct stat st {};
  if (::lstat(log.c_str(), &st) == 0 && st.st_size > static_cast<off_t>(kDebugLogLimit))
    ::rename(log.c_str(), (log.string() + ".1").c_str());
}

}  // namespace

fs::path find_runc(const RuncCall& call, const fs::path& self) {
  if (call.runc) {
    if (!executable(*call.runc)) throw Error("--runcvm-runc: " + quote(*call.runc) + " is not an executable file");
    return *call.runc;
  }
  fs::path beside = self.parent_path() / "runc";
  if (executable(beside) && !same_file(beside, self)) return beside;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    fs::path candidate = fs::path(dirs.substr(0, colon)) / "runc";
    if (executable(candidate) && !same_file(candidate, self)) return candidate;
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
  }
  throw Error("runc not found next to " + quote(self.string()) + " nor on PATH")
      .with_hint("install runc or pass --runcvm-runc=PATH in the runtime's runtimeArgs");
}

std::vector<std::string> rewrite_for_vm(const RuncCall& call, const fs::path& self, bool debug) {
  if (call.command == "create" || call.command == "run") return rewrite_bundle(call, self, debug);
  if (call.command == "exec" && call.process) return rewrite_process(call, debug);
  return {};
}

void report_error(const RuncCall& call, const std::string& message) {
  std::cerr << "runcvm-runtime: error: " << message << std::endl;
  if (!call.log) return;
  if (call.log_format == "json")
    append_line(*call.log, Json{{"level", "error"}, {"msg", "runcvm: " + message}, {"time", timestamp()}}.dump());
  else
    append_line(*call.log, "time=\"" + timestamp() + "\" level=error msg=" + Json("runcvm: " + message).dump());
}

void exec_runc(const fs::path& runc, const RuncCall& call) {
  std::vector<char*> argv;
  std::string program = runc.string();
  argv.push_back(program.data());
  for (const auto& arg : call.runc_args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(program.c_str(), argv.data());
  throw system_error("executing", program, errno);
}

int run_runtime(std::span<char*> argv) {
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  RuncCall call;
  try {
    call = parse_runc_call(args);
    fs::path self = fs::read_symlink("/proc/self/exe");
    const char* env_debug = std::getenv("RUNCVM_RUNTIME_DEBUG");
    bool debug = call.debug || (env_debug && std::string_view(env_debug) == "1");
    fs::path runc = find_runc(call, self);
    std::vector<std::string> log = rewrite_for_vm(call, self, debug);
    if (debug || !log.empty()) {
      prepare_debug_log();
      std::string line = timestamp() + " pid " + std::to_string(::getpid()) + " argv:";
      for (const auto& arg : args) line += " " + Json(arg).dump();
      append_line(kDebugLog, line);
      for (const auto& entry : log) append_line(kDebugLog, timestamp() + " " + entry);
    }
    exec_runc(runc, call);
  } catch (const std::exception& e) {
    std::string line = format_error_line("runcvm-runtime", e);
    report_error(call, line.substr(std::string("runcvm-runtime: error: ").size()));
    return 1;
  }
}

}  // namespace runcvm::runtime
