#include "handoff/kernel_manifest.hpp"

#include "common/error.hpp"
#include "handoff/json_reader.hpp"

namespace runcvm::handoff {

namespace {
constexpr const char* kDocument = "kernel manifest";
}  // namespace

std::string to_json_text(const KernelManifest& m) {
  detail::Json packages = detail::Json::array();
  for (const auto& p : m.packages)
    packages.push_back({{"name", p.name}, {"version", p.version}, {"checksum", p.checksum}});
  detail::Json out = {{"manifest_version", kKernelManifestVersion},
                      {"dist", m.dist},
                      {"version", m.version},
                      {"recipe", m.recipe},
                      {"inputs", m.inputs},
                      {"initramfs_modules", m.initramfs_modules},
                      {"packages", packages},
                      {"root_without_initramfs", m.root_without_initramfs}};
  if (m.toolchain) out["toolchain"] = *m.toolchain;
  return out.dump(2) + "\n";
}

KernelManifest parse_kernel_manifest(std::string_view json_text) {
  detail::Json root = detail::parse_json(json_text, kDocument);
  detail::Reader r(root, "", kDocument);
  r.version("manifest_version", kKernelManifestVersion, "made by another runcvm-build: build the kernel again");
  KernelManifest m;
  m.dist = r.required<std::string>("dist");
  m.version = r.required<std::string>("version");
  m.recipe = r.required<std::string>("recipe");
  m.inputs = r.required<std::string>("inputs");
  m.initramfs_modules = r.required<std::vector<std::string>>("initramfs_modules");
  m.packages = detail::read_list<KernelPackage>(r, "packages", [](detail::Reader& item) {
    return KernelPackage{item.required<std::string>("name"), item.required<std::string>("version"),
                         item.required<std::string>("checksum")};
  });
  m.root_without_initramfs = r.required<bool>("root_without_initramfs");
  if (r.has("toolchain")) m.toolchain = r.required<std::string>("toolchain");
  r.finish();
  return m;
}

}  // namespace runcvm::handoff
