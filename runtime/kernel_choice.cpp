#include "runtime/kernel_choice.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/kernel_artifact.hpp"
#include "handoff/vm_template.hpp"

namespace runcvm::runtime {
namespace {

std::string available(const BundleFacts& bundle) {
  std::string out;
  for (const auto& [dist, entry] : bundle.kernels)
    for (const auto& version : entry.versions) out += (out.empty() ? "" : ", ") + dist + "/" + version;
  return out.empty() ? "none" : out;
}

handoff::Kernel bundle_kernel(const std::string& dist, const std::string& version) {
  namespace artifact = handoff::kernel_artifact;
  std::string base = artifact::kernel_directory(handoff::kBundleMountPoint, dist, version);
  return handoff::Kernel{"bundle",
                         dist,
                         version,
                         base + "/" + artifact::kKernelImage,
                         base + "/" + artifact::kInitramfs,
                         "/lib/modules/" + version,
                         "",
                         false};
}

}  // namespace

handoff::Kernel choose_kernel(const Options& options, const ImageFacts& image, const BundleFacts& bundle) {
  handoff::Kernel kernel;
  if (options.kernel) {
    const auto& request = *options.kernel;
    auto dist = bundle.kernels.find(request.dist);
    if (dist == bundle.kernels.end())
      throw Error("RUNCVM_KERNEL: no kernels for " + quote(request.dist) +
                  " in the bundle (available: " + available(bundle) + ")");
    std::string version = request.version.value_or(dist->second.latest);
    const auto& versions = dist->second.versions;
    if (std::find(versions.begin(), versions.end(), version) == versions.end())
      throw Error("RUNCVM_KERNEL: " + quote(request.dist + "/" + version) +
                  " is not in the bundle (available: " + available(bundle) + ")");
    kernel = bundle_kernel(request.dist, version);
  } else if (image.kernel) {
    kernel = handoff::Kernel{"image",
                             image.os_id,
                             image.kernel->version,
                             image.kernel->vmlinuz,
                             image.kernel->initrd,
                             "/lib/modules/" + image.kernel->version,
                             "",
                             false};
  } else {
    std::vector<std::string> candidates;
    if (!image.os_id.empty()) candidates.push_back(image.os_id);
    candidates.insert(candidates.end(), image.os_like.begin(), image.os_like.end());
    candidates.push_back("debian");  // an unknown distribution is not an error: Debian's kernel boots it
    auto found = std::find_if(candidates.begin(), candidates.end(), [&](const std::string& dist) {
      auto it = bundle.kernels.find(dist);
      return it != bundle.kernels.end() && !it->second.latest.empty();
    });
    if (found == candidates.end())
      throw Error("no kernel for this image: the bundle has none for " +
                  quote(image.os_id.empty() ? "?" : image.os_id) + " nor for debian (available: " + available(bundle) +
                  ")")
          .with_hint("set RUNCVM_KERNEL or add kernels with runcvm-build kernels");
    kernel = bundle_kernel(*found, bundle.kernels.at(*found).latest);
  }
  kernel.append = options.kernel_append;
  kernel.debug = options.kernel_debug;
  return kernel;
}

void drop_needless_initramfs(handoff::Launch& launch, const BundleFacts& bundle) {
  handoff::Kernel& kernel = launch.kernel;
  if (kernel.source != "bundle" || !handoff::template_refusal(launch)) return;
  auto dist = bundle.kernels.find(kernel.dist);
  if (dist != bundle.kernels.end() && dist->second.root_without_initramfs.count(kernel.version) != 0)
    kernel.initrd.clear();
}

}  // namespace runcvm::runtime
