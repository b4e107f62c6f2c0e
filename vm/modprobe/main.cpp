// runcvm-modprobe: the VM kernel's module helper (/proc/sys/kernel/modprobe, set by
// runcvm-vm-init). The kernel runs it as `modprobe -q -- NAME` when something needs a feature that
// is not loaded ("rtnl-link-vxlan", "fs-overlay", "net-pf-16-proto-16-family-IPVS"). It loads the
// module from the bundle kernel's tree, so this works in images without kmod (distroless, busybox),
// and when the kernel has no such module it says so in one line — in the VM's kernel log and the
// runtime's log (guest_notice.hpp) — instead of leaving the workload to fail later on an
// unexplained EOPNOTSUPP or to wait forever on a service that never comes up.
// kmod's modprobe is not used: the image may not have it, and it is the image's program.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "vm/vm-init/guest_notice.hpp"
#include "vm/vm-init/kernel_modules.hpp"

namespace runcvm::vm_init {
namespace {

// Requests the kernel makes while probing, where a miss is normal (a crypto driver's variants, a
// device name looked up, a handler for a binary no loaded format took): they are not reported.
bool is_probe(std::string_view request) {
  for (std::string_view prefix : {"crypto-", "netdev-", "char-major-", "block-major-", "devname:", "binfmt-"})
    if (request.starts_with(prefix)) return true;
  return false;
}

// The exec agent, which receives the notice, also writes it to the kernel's log (once per boot).
void tell(const std::string& line, bool quiet) {
  if (!quiet) std::fprintf(stderr, "runcvm-modprobe: %s\n", line.c_str());
  send_guest_notice(line);
}

int run(int argc, char** argv) {
  bool quiet = false;
  std::vector<std::string> names;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done && arg.starts_with("-")) {
      if (arg == "-q" || arg == "--quiet") {
        quiet = true;
      } else if (arg != "-a" && arg != "--all" && arg != "-b" && arg != "--use-blacklist" && arg != "-v") {
        std::fprintf(stderr,
                     "runcvm-modprobe: option \"%s\" is not supported: usage: runcvm-modprobe [-q] [--] NAME...\n",
                     argv[i]);
        return 1;
      }
    } else {
      names.emplace_back(arg);
    }
  }
  utsname system{};
  ::uname(&system);
  std::string release = system.release;
  std::string modules_dir = "/lib/modules/" + release;
  ModuleIndexes indexes = read_module_indexes(modules_dir);
  int status = 0;
  for (const std::string& name : names) {
    ModuleRequest request = resolve_module_request(indexes, name);
    if (!request.found()) {
      if (!is_probe(name) || !quiet)
        tell("kernel " + release + " has no module for \"" + name + "\" (not built in, not in " + modules_dir +
                 "): choose a kernel that has it (RUNCVM_KERNEL)",
             quiet);
      status = 1;
      continue;
    }
    for (const std::string& file : request.files) try {
        load_module_file(modules_dir + "/" + file);
      } catch (const std::exception& e) {
        tell(std::string("\"") + name + "\": " + e.what(), quiet);
        status = 1;
        break;
      }
  }
  return status;
}

}  // namespace
}  // namespace runcvm::vm_init

int main(int argc, char** argv) {
  try {
    return runcvm::vm_init::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", runcvm::format_error_line("runcvm-modprobe", e).c_str());
    return 1;
  }
}
