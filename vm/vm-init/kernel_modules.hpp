// Drivers for the devices the options add (graphics card, USB controller): the VM has no udev to
// load them, so runcvm-vm-init loads them by name from the kernel's modules, with their
// dependencies as modules.dep lists them. The kernel's own requests for a module ("rtnl-link-vxlan",
// "fs-overlay") go to runcvm-modprobe, which resolves them here from the text indexes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/launch.hpp"

namespace runcvm::vm_init {

// The drivers the launch's devices need, by module name. For the image's own kernel the VM's
// basic devices too (channel, network, disks): its initramfs loads only what mounts the root.
std::vector<std::string> device_drivers(const handoff::Launch& launch);

// The files to load for `name` (paths relative to the modules directory), dependencies first, from
// modules.dep's text; empty when modules.dep does not list it (built in, or absent). Module names
// compare with '-' and '_' alike, as the kernel's do.
std::vector<std::string> load_order(std::string_view modules_dep, std::string_view name);

// The text indexes of one kernel's module tree (as depmod, and runcvm-build, write them).
struct ModuleIndexes {
  std::string dep;              // modules.dep
  std::string alias;            // modules.alias: "alias <pattern> <module>"
  std::string builtin;          // modules.builtin: one path a built-in module would have
  std::string builtin_modinfo;  // modules.builtin.modinfo: NUL-separated "<module>.<key>=<value>"
};
// Reads them from a modules directory; an index that is missing reads as empty.
ModuleIndexes read_module_indexes(const std::string& modules_dir);

// What a request for a module by name or alias comes to: built in (nothing to load), the files to
// load in order (several when an alias names several modules), or nothing the kernel has.
struct ModuleRequest {
  bool builtin = false;
  std::vector<std::string> files;  // relative to the modules directory, dependencies first
  bool found() const { return builtin || !files.empty(); }
};
ModuleRequest resolve_module_request(const ModuleIndexes& indexes, std::string_view request);

// Loads one module file; one already loaded counts as loaded. Compressed files (.ko.xz, .ko.zst,
// .ko.gz) are handed to the kernel to decompress. Throws naming the file.
void load_module_file(const std::string& path);

// Loads each driver from `modules_dir` (its modules.dep); one that is built in is skipped. A
// driver that cannot be loaded throws, naming it. Drivers already loaded (by the initramfs) are
// skipped without reading modules.dep.
void load_drivers(const std::string& modules_dir, const std::vector<std::string>& names);

}  // namespace runcvm::vm_init
