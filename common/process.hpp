// Runs a helper program (gpgv, cpio, …) and collects its output: how the builder and the runtime
// spawn. The container and VM programs fork their long-running children themselves (QEMU and
// virtiofsd in spawn_helper, the workload in vm-init): those inherit chosen descriptors and are
// supervised, not collected.
#pragma once

#include <string>
#include <vector>

namespace runcvm {

struct ProcessResult {
  int exit_code = 0;  // 128+n when killed by signal n, as a shell reports it
  std::string standard_output;
  std::string standard_error;
};

// Throws Error when the program cannot be started (naming it); a non-zero exit is returned.
ProcessResult run_process(const std::vector<std::string>& argv);

// The first non-empty line of a helper's stderr, for one-line error messages.
std::string first_line(const std::string& text);
// The last non-empty line, for helpers that end with their verdict (gpgv).
std::string last_line(const std::string& text);

}  // namespace runcvm
