// runcvm-vm-init: PID 1 of a VM whose kernel boots without an initramfs, started by the kernel
// from the container's root (`init=`).
#include <optional>

#include "vm/vm-init/pid1.hpp"

int main() { runcvm::vm_init::run_as_pid1(std::nullopt); }
