#include "handoff/machine.hpp"

namespace runcvm::handoff {

std::optional<unsigned> vnc_port(const Launch& launch) {
  if (launch.display_mode != "vnc" && !launch.qemu.vnc_display) return std::nullopt;
  return 5900 + launch.qemu.vnc_display.value_or(0);
}

}  // namespace runcvm::handoff
