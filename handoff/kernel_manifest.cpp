#include "handoff/kernel_manifest.hpp"

#include "handoff/fields.hpp"

namespace runcvm::handoff::detail {

template <>
struct Fields<KernelPackage> {
  static constexpr std::tuple list{field("name", &KernelPackage::name), field("version", &KernelPackage::version),
                                   field("checksum", &KernelPackage::checksum)};
};

// The manifest's own version is read and written apart (Reader::version), before these.
template <>
struct Fields<KernelManifest> {
  static constexpr std::tuple list{field("dist", &KernelManifest::dist),
                                   field("version", &KernelManifest::version),
                                   field("recipe", &KernelManifest::recipe),
                                   field("inputs", &KernelManifest::inputs),
                                   field("initramfs_modules", &KernelManifest::initramfs_modules),
                                   field("packages", &KernelManifest::packages),
                                   field("root_without_initramfs", &KernelManifest::root_without_initramfs),
                                   field("toolchain", &KernelManifest::toolchain)};
};

}  // namespace runcvm::handoff::detail

namespace runcvm::handoff {

namespace {
constexpr const char* kDocument = "kernel manifest";
}  // namespace

std::string to_json_text(const KernelManifest& manifest) {
  detail::Json out = {{"manifest_version", kKernelManifestVersion}};
  detail::write_fields(out, manifest);
  return out.dump(2) + "\n";
}

KernelManifest parse_kernel_manifest(std::string_view json_text) {
  detail::Json root = detail::parse_json(json_text, kDocument);
  detail::Reader r(root, "", kDocument);
  r.version("manifest_version", kKernelManifestVersion, "made by another runcvm-build: build the kernel again");
  KernelManifest manifest = detail::read_object<KernelManifest>(r);
  r.finish();
  return manifest;
}

}  // namespace runcvm::handoff
