// What runcvm-runtime does with one call, at the edge: rewrite the bundle or the exec process
// file in place, log when asked, then replace itself with the real runc.
#pragma once

#include <span>
#include <string>

#include "common/file.hpp"
#include "runtime/runc_cli.hpp"

namespace runcvm::runtime {

// Written only when the operator asks (runc's --debug or --runcvm-debug in runtimeArgs, or
// RUNCVM_RUNTIME_DEBUG=1 in the runtime's own environment): mode 0600 in a 0700 directory, env
// values redacted, rotated past kDebugLogLimit bytes.
inline constexpr const char* kDebugLog = "/run/runcvm/debug.log";
inline constexpr std::size_t kDebugLogLimit = 1 << 20;

// The real runc: --runcvm-runc, else `runc` next to this program, else the first `runc` on PATH
// that is not this program.
fs::path find_runc(const RuncCall& call, const fs::path& self);

// Rewrites <bundle>/config.json for create/run (writing <bundle>/runcvm-launch.json) and the
// --process file for exec. Returns the debug log lines to write, if debugging is on.
std::vector<std::string> rewrite_for_vm(const RuncCall& call, const fs::path& self, bool debug);

// Reports an error where containerd looks for it (runc's --log file, in its format) and on
// stderr; Docker shows the message to the user.
void report_error(const RuncCall& call, const std::string& message);

[[noreturn]] void exec_runc(const fs::path& runc, const RuncCall& call);

int run_runtime(std::span<char*> argv);

}  // namespace runcvm::runtime
