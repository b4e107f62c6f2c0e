// Which kernel a container's VM boots: the user's RUNCVM_KERNEL, else a kernel the image carries,
// else the bundle's latest kernel for the image's distribution (ID, then ID_LIKE), else Debian's.
#pragma once

#include "handoff/launch.hpp"
#include "runtime/facts.hpp"
#include "runtime/options.hpp"

namespace runcvm::runtime {

// Paths in the result are as seen inside the container; bundle kernels live below the bundle
// mount point. Throws naming what is available when the request cannot be met.
handoff::Kernel choose_kernel(const Options& options, const ImageFacts& image, const BundleFacts& bundle);

// A bundle kernel that mounts its virtiofs root itself (runcvm-minimal) boots without the
// initramfs, whose stage costs about 70 ms of every boot under TCG; a VM that starts from a
// template keeps it, because the template waits in the initramfs for its root. Call once every
// field template_refusal reads is set.
void drop_needless_initramfs(handoff::Launch& launch, const BundleFacts& bundle);

}  // namespace runcvm::runtime
