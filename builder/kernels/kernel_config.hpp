// Kconfig text as data: a recipe's config fragment (the options it insists on), applied on top of
// a base config, and checked against the config the kernel's own `make olddefconfig` settled on.
// Kconfig may silently drop an option whose dependencies are not met; a build recipe must not,
// so every option the fragment names that did not survive is an error naming it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::kernels {

struct ConfigSetting {
  std::string name;                  // CONFIG_…
  std::optional<std::string> value;  // y, m, "text", 100; nullopt: "is not set"
  bool operator==(const ConfigSetting&) const = default;
};

// The settings of a fragment (`CONFIG_X=value` and `# CONFIG_X is not set` lines; other lines
// starting with # are comments). A malformed line or an option named twice is an error naming
// the line.
std::vector<ConfigSetting> parse_config_fragment(std::string_view text, std::string_view what);

// `config` with every option the fragment names replaced by the fragment's setting.
std::string apply_config_fragment(std::string_view config, const std::vector<ConfigSetting>& fragment);

// The fragment's settings that `config` does not hold, each as "CONFIG_X=y (got: is not set)".
std::vector<std::string> unmet_config_settings(std::string_view config, const std::vector<ConfigSetting>& fragment);

// Whether a kernel with this .config mounts the VM's virtiofs root by itself (root=<tag>
// rootfstype=virtiofs), so the VM boots without an initramfs: FUSE, virtiofs, the virtio console
// and both transports (PCI for q35 and pc, MMIO for microvm) built in, and devtmpfs mounted on /dev.
bool mounts_virtiofs_root_itself(std::string_view config);

}  // namespace runcvm::kernels
