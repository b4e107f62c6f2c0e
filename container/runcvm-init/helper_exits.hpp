// How the VM's two helpers end together, for the boot wait (guest_ready.hpp) and the supervisor.
#pragma once

#include <chrono>

namespace runcvm::container_init {

// virtiofsd ends by itself once QEMU's end of its socket closes, which a crashing or killed QEMU
// does a moment before its own exit can be seen (its last thread is still exiting). Within this
// long after virtiofsd's end, QEMU's end is the cause; past it, virtiofsd failed on its own.
inline constexpr std::chrono::milliseconds kVirtiofsdFollowsQemu{500};

}  // namespace runcvm::container_init
