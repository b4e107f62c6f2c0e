#include "runtime/runc_cli.hpp"

#include <algorithm>
#include <set>

#include "common/error.hpp"

namespace runcvm::runtime {
namespace {

// runc's flags that take a value (runc 1.1, urfave/cli): everything else is a boolean. A flag
// may be written -name or --name, with its value as the next argument or after '='.
const std::set<std::string, std::less<>> kGlobalValueFlags = {"log", "log-format", "root", "criu", "rootless"};
const std::set<std::string, std::less<>> kCommandValueFlags = {"bundle",
                                                               "b",
                                                               "console-socket",
                                                               "pid-file",
                                                               "preserve-fds",
                                                               "cwd",
                                                               "env",
                                                               "e",
                                                               "user",
                                                               "u",
                                                               "additional-gids",
                                                               "g",
                                                               "process",
                                                               "p",
                                                               "process-label",
                                                               "apparmor",
                                                               "cap",
                                                               "c",
                                                               "cgroup",
                                                               "signal",
                                                               "s",
                                                               "format",
                                                               "f",
                                                               "interval",
                                                               "image-path",
                                                               "work-path",
                                                               "parent-path",
                                                               "page-server",
                                                               "manage-cgroups-mode",
                                                               "empty-ns",
                                                               "status-fd",
                                                               "resources",
                                                               "r",
                                                               "blkio-weight",
                                                               "cpu-period",
                                                               "cpu-quota",
                                                               "cpu-rt-period",
                                                               "cpu-rt-runtime",
                                                               "cpu-share",
                                                               "cpuset-cpus",
                                                               "cpuset-mems",
                                                               "kernel-memory",
                                                               "kernel-memory-tcp",
                                                               "memory",
                                                               "memory-reservation",
                                                               "memory-swap",
                                                               "pids-limit",
                                                               "l3-cache-schema",
                                                               "mem-bw-schema",
                                                               "lazy-pages",
                                                               "detach-from"};

struct Flag {
  std::string name;
  std::optional<std::string> inline_value;
};

std::optional<Flag> as_flag(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return std::nullopt;
  std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
  size_t eq = body.find('=');
  if (eq == std::string::npos) return Flag{body, std::nullopt};
  return Flag{body.substr(0, eq), body.substr(eq + 1)};
}

}  // namespace

RuncCall parse_runc_call(std::span<const std::string> args) {
  RuncCall call;
  std::size_t i = 0;
  auto take_value = [&](const Flag& flag, bool keep) -> std::string {
    if (flag.inline_value) return *flag.inline_value;
    if (i + 1 >= args.size()) throw Error("option --" + flag.name + " expects a value");
    ++i;
    if (keep) call.runc_args.push_back(args[i]);
    return args[i];
  };
  // Global options, up to the command.
  for (; i < args.size(); ++i) {
    auto flag = as_flag(args[i]);
    if (!flag) break;
    if (flag->name == "runcvm-runc") {
      call.runc = take_value(*flag, false);
      continue;
    }
    if (flag->name == "runcvm-debug") {
      call.debug = true;
      continue;
    }
    call.runc_args.push_back(args[i]);
    if (kGlobalValueFlags.count(flag->name)) {
      std::string value = take_value(*flag, true);
      if (flag->name == "log") call.log = value;
      if (flag->name == "log-format") call.log_format = value;
    }
  }
  if (i == args.size()) return call;
  call.command = args[i];
  call.runc_args.push_back(args[i++]);
  // The command's options and its first positional argument, the container id; for exec the
  // rest is the command line, which is never parsed as options.
  for (; i < args.size(); ++i) {
    call.runc_args.push_back(args[i]);
    if (args[i] == "--") {
      if (call.container_id.empty() && i + 1 < args.size()) {
        call.container_id = args[++i];
        call.runc_args.push_back(args[i]);
      }
      break;
    }
    auto flag = as_flag(args[i]);
    if (!flag) {
      if (call.container_id.empty()) {
        call.container_id = args[i];
        if (call.command == "exec") break;
      }
      continue;
    }
    if (kCommandValueFlags.count(flag->name) == 0) continue;
    std::string value = take_value(*flag, true);
    if (flag->name == "bundle" || flag->name == "b") call.bundle = value;
    if (flag->name == "process" || flag->name == "p") call.process = value;
  }
  for (++i; i < args.size(); ++i) call.runc_args.push_back(args[i]);
  return call;
}

}  // namespace runcvm::runtime
