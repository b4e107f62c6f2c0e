// What the VM's machine has, from the launch document: the devices QEMU gives it and how the
// guest finds them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "handoff/launch.hpp"

namespace runcvm::handoff {

// The serial number of RUNCVM_DISKS entry `index` (0-based) as a virtio-blk device: the VM finds
// the device by it (/sys/block/vd*/serial).
inline std::string disk_serial(std::size_t index) { return "runcvm-disk" + std::to_string(index); }

// The VM's VNC port (RUNCVM_DISPLAY_MODE=vnc or RUNCVM_QEMU_VNC_DISPLAY): 5900 + display.
std::optional<unsigned> vnc_port(const Launch& launch);
// Whether the machine has a PCI bus (q35, pc): microvm puts the VM's virtio devices on virtio-mmio
// and can have no PCI-only device (graphics cards, USB controllers).
inline bool has_pci_bus(const Qemu& qemu) { return qemu.machine != "microvm"; }
// Whether the VM has QEMU's panic device (ISA pvpanic, which QEMU turns into exit status 1) and
// loads its driver: not on microvm, whose ACPI table does not describe it.
inline bool has_panic_device(const Qemu& qemu) { return qemu.machine != "microvm"; }
// Whether the VM has the balloon that reports the pages the guest frees (RUNCVM_BALLOON). Not
// with RUNCVM_HUGETLB: QEMU would return those pages to the host's huge-page pool, reservation and
// all, and a guest touching them again after another process took them from the pool would kill
// QEMU with SIGBUS; the operator set those pages aside for this VM anyway.
inline bool has_balloon(const Launch& launch) { return launch.qemu.balloon && !launch.hugetlb; }

}  // namespace runcvm::handoff
