// Direct boot of a distribution kernel. A bzImage is a decompressor with the real kernel inside,
// a compressed ELF; under TCG the decompressor alone takes about two seconds of every VM start.
// When that ELF has a PVH entry point (Linux's CONFIG_PVH), QEMU loads it as it is and enters it
// there, so the builder ships it uncompressed next to vmlinuz and runcvm-init boots it instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/file.hpp"

namespace runcvm::kernels {

// The ELF inside a bzImage (boot protocol 2.08 or later: its setup header locates the payload),
// if it has a PVH entry point; nullopt when the kernel can only boot through its decompressor or
// is not an x86 bzImage at all. Throws runcvm::Error naming `what` for a damaged bzImage.
std::optional<std::string> direct_boot_image(std::string_view bzimage, std::string_view what);

// Whether an ELF kernel declares a PVH entry point (a "Xen" note of type 18, PHYS32_ENTRY).
bool has_pvh_entry(std::string_view elf);

// Writes `data` with its runs of zero blocks left as holes (a kernel's .bss is stored as zeros),
// through a temporary name.
void write_sparse_file(const fs::path& path, std::string_view data);

}  // namespace runcvm::kernels
