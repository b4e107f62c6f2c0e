// runc's command line as containerd and people call it: global options, a command, its options
// and the container id. Parsed only as far as the wrapper needs (which command, the bundle, the
// exec process file, the log file); everything is passed on to runc exactly as received, minus
// the wrapper's own --runcvm-* options.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace runcvm::runtime {

struct RuncCall {
  std::vector<std::string> runc_args;  // what runc gets (argv without argv[0])
  std::string command;                 // create, run, exec, start, …; empty for `runc --version`
  std::optional<std::string> bundle;   // create/run: --bundle/-b
  std::optional<std::string> process;  // exec: --process/-p
  std::optional<std::string> log;      // global --log: where runc (and we) report errors
  std::string log_format = "text";     // global --log-format
  std::string container_id;
  std::optional<std::string> runc;  // --runcvm-runc=PATH
  bool debug = false;               // --runcvm-debug
};

RuncCall parse_runc_call(std::span<const std::string> args);

}  // namespace runcvm::runtime
