// Drivers for the devices the options add (graphics card, USB controller): the VM has no udev to
// load them, so runcvm-vm-init loads them by name from the kernel's modules, with their
// dependencies as modules.dep lists them.
#pragma once

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

// Loads each driver from `modules_dir` (its modules.dep); one that is built in is skipped. A
// driver that cannot be loaded throws, naming it.
void load_drivers(const std::string& modules_dir, const std::vector<std::string>& names);

}  // namespace runcvm::vm_init
