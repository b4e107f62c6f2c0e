#include "container/runcvm-init/vm_devices.hpp"

namespace runcvm::container_init {

std::vector<std::string> hotplug_slots(const std::string& machine, unsigned count) {
  std::vector<std::string> slots;
  if (machine == "q35")  // pc hot-plugs on its root bus (ACPI); microvm has no PCI at all
    for (unsigned i = 0; i < count; ++i) slots.push_back("runcvm-slot" + std::to_string(i));
  return slots;
}

std::string hotplug_card_id(std::size_t position) { return "hpnic" + std::to_string(position); }
std::string hotplug_backend_id(std::size_t position) { return "hpnet" + std::to_string(position); }
std::string hotplug_tap_name(std::size_t position) { return "hptap" + std::to_string(position); }
std::string boot_card_id(std::size_t position) { return "nic" + std::to_string(position); }

}  // namespace runcvm::container_init
