// QEMU's ids for the VM's network devices: qemu_command names them when it builds the VM, and the
// network watcher addresses the same devices over QMP when networks come and go.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace runcvm::container_init {

// The ids of the empty hot-plug slots qemu_command gives a q35 VM (RUNCVM_QEMU_HOTPLUG_SLOTS).
std::vector<std::string> hotplug_slots(const std::string& machine, unsigned count);
// QEMU's ids for the card, its backend and its tap descriptor at `position`; a boot card's id.
std::string hotplug_card_id(std::size_t position);
std::string hotplug_backend_id(std::size_t position);
std::string hotplug_tap_name(std::size_t position);
std::string boot_card_id(std::size_t position);

}  // namespace runcvm::container_init
