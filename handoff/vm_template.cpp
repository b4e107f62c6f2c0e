#include "handoff/vm_template.hpp"

#include <cstdio>

#include "common/error.hpp"
#include "common/text.hpp"
#include "handoff/fields.hpp"
#include "handoff/launch.hpp"

namespace runcvm::handoff::detail {

template <>
struct Fields<TemplateKey> {
  static constexpr std::tuple list{field("boot_id", &TemplateKey::boot_id),   field("qemu", &TemplateKey::qemu),
                                   field("firmware", &TemplateKey::firmware), field("kernel", &TemplateKey::kernel),
                                   field("initrd", &TemplateKey::initrd),     field("command", &TemplateKey::command),
                                   field("host_cpu", &TemplateKey::host_cpu)};
};

template <>
struct Fields<TemplateManifest> {
  static constexpr std::tuple list{field("key", &TemplateManifest::key),
                                   field("state_bytes", &TemplateManifest::state_bytes),
                                   field("state_crc32", &TemplateManifest::state_crc32),
                                   field("ram_bytes", &TemplateManifest::ram_bytes),
                                   field("ram_crc32", &TemplateManifest::ram_crc32),
                                   field("built_at", &TemplateManifest::built_at)};
};

}  // namespace runcvm::handoff::detail

namespace runcvm::handoff {

using detail::Json;
using detail::Reader;

namespace {

constexpr int kManifestVersion = 2;

}  // namespace

std::string template_directory_name(const TemplateKey& key) {
  Json fields = Json::object();
  detail::write_fields(fields, key);
  return hex_name(fields.dump());
}

std::string to_json_text(const TemplateManifest& manifest) {
  Json out = {{"version", kManifestVersion}};
  detail::write_fields(out, manifest);
  return out.dump(2) + "\n";
}

std::optional<TemplateManifest> parse_template_manifest(std::string_view text) {
  if (text.size() > kTemplateManifestMaxBytes) return std::nullopt;
  try {
    Json root = detail::parse_json(text, "template manifest");
    Reader r(root, "", "template manifest");
    if (r.required<int>("version") != kManifestVersion) return std::nullopt;
    TemplateManifest manifest = detail::read_object<TemplateManifest>(r);
    r.finish();
    return manifest;
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<std::string> template_refusal(const Launch& launch) {
  if (!launch.template_vm) return "RUNCVM_TEMPLATE=0";
  if (launch.kernel.source != "bundle") return "the image's own kernel boots cold";
  if (launch.kernel.initrd.empty()) return "a kernel without runcvm's initramfs mounts its root while it boots";
  if (launch.qemu.machine != "q35") return "RUNCVM_QEMU_MACHINE=" + launch.qemu.machine + " boots cold";
  if (launch.kernel.debug) return "RUNCVM_KERNEL_DEBUG shows the kernel's boot";
  if (!launch.kernel.append.empty()) return "RUNCVM_KERNEL_APPEND changes the kernel's command line";
  if (launch.qemu.bios_debug) return "RUNCVM_BIOS_DEBUG shows the firmware's boot";
  if (launch.hugetlb) return "RUNCVM_HUGETLB boots cold";
  if (launch.display_mode != "headless" || launch.qemu.usb || launch.qemu.vnc_display)
    return "a display, VNC or USB controller boots cold";
  if (launch.disks.size() > kTemplateDiskSlots)
    return "more than " + std::to_string(kTemplateDiskSlots) + " RUNCVM_DISKS boot cold";
  return std::nullopt;
}

}  // namespace runcvm::handoff
