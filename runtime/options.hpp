// The RUNCVM_* options a user sets on a container (`docker run -e RUNCVM_KERNEL=…`): typed,
// validated all at once, and removed from the workload's environment, which must be exactly what
// runc would have given it. The table in options.cpp is the single source of the table in docs/options.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/size.hpp"
#include "handoff/exec_request.hpp"
#include "handoff/launch.hpp"

namespace runcvm::runtime {

struct KernelRequest {
  std::string dist;
  std::optional<std::string> version;
};

struct Options {
  std::optional<KernelRequest> kernel;      // RUNCVM_KERNEL
  std::string kernel_append;                // RUNCVM_KERNEL_APPEND
  bool kernel_debug = false;                // RUNCVM_KERNEL_DEBUG
  bool kernel_mount_lib_modules = false;    // RUNCVM_KERNEL_MOUNT_LIB_MODULES
  std::vector<handoff::Disk> disks;         // RUNCVM_DISKS
  std::optional<unsigned> cpus;             // RUNCVM_CPUS
  std::optional<std::uint64_t> memory_mib;  // RUNCVM_MEM
  std::string display_mode = "headless";    // RUNCVM_DISPLAY_MODE
  handoff::Qemu qemu;                       // RUNCVM_QEMU_MACHINE, _CPU, _ACCEL, _VGA, _VNC_DISPLAY, _USB
  bool hugetlb = false;                     // RUNCVM_HUGETLB
  std::string cgroupfs = "2";               // RUNCVM_CGROUPFS
  std::string virtiofs_cache = "auto";      // RUNCVM_VIRTIOFS_CACHE
  std::string capabilities = "auto";        // RUNCVM_CAPS
  bool timings = false;                     // RUNCVM_TIMINGS
  bool template_vm = true;                  // RUNCVM_TEMPLATE
  unsigned exec_timeout_seconds = handoff::kExecWaitDefaultSeconds;  // RUNCVM_EXEC_TIMEOUT
  std::vector<std::string> breakpoints;                              // RUNCVM_BREAK
};

struct OptionDoc {
  std::string_view name;
  std::string_view format;
  std::string_view default_value;
  std::string_view meaning;
};
const std::vector<OptionDoc>& option_table();

// Every option may come from the image's ENV (the runtime cannot tell it from docker run -e), so
// none of them raises the container's privileges or limits: RUNCVM_MEM is bounded by -m, and
// capabilities and the host's debug log are the operator's (--cap-add, runtimeArgs).
// Reads the RUNCVM_* entries of a container's env ("NAME=value" strings). Every invalid value is
// reported in one Error; unknown RUNCVM_* names are errors too (a typo must not be ignored).
Options parse_options(const std::vector<std::string>& env);
// The env without RUNCVM_* entries.
std::vector<std::string> workload_env(const std::vector<std::string>& env);

}  // namespace runcvm::runtime
