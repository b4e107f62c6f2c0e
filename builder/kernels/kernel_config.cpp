#include "builder/kernels/kernel_config.hpp"

#include <map>
#include <set>

#include "common/error.hpp"

namespace runcvm::kernels {
namespace {

constexpr std::string_view kPrefix = "CONFIG_";
constexpr std::string_view kNotSet = " is not set";

bool valid_name(std::string_view name) {
  if (name.size() <= kPrefix.size() || !name.starts_with(kPrefix)) return false;
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || (c >= 'a' && c <= 'z'))) return false;
  return true;
}

// One line of a .config or fragment; nullopt for comments and blank lines.
std::optional<ConfigSetting> parse_line(std::string_view line) {
  if (line.starts_with("# CONFIG_") && line.size() > kNotSet.size() && line.ends_with(kNotSet)) {
    std::string_view name = line.substr(2, line.size() - 2 - kNotSet.size());
    if (valid_name(name)) return ConfigSetting{std::string(name), std::nullopt};
  }
  auto equals = line.find('=');
  if (equals == std::string_view::npos || !valid_name(line.substr(0, equals))) return std::nullopt;
  return ConfigSetting{std::string(line.substr(0, equals)), std::string(line.substr(equals + 1))};
}

bool is_comment_or_blank(std::string_view line) {
  auto first = line.find_first_not_of(" \t");
  return first == std::string_view::npos || line[first] == '#';
}

template <class F>
void for_each_line(std::string_view text, F f) {
  std::size_t start = 0, number = 1;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    f(text.substr(start, end - start), number++);
    start = end + 1;
  }
}

std::string format(const ConfigSetting& setting) {
  return setting.value ? setting.name + "=" + *setting.value : "# " + setting.name + std::string(kNotSet);
}

// A .config's settings by name; an option absent from it counts as not set, as Kconfig reads it.
std::map<std::string, ConfigSetting> settings_by_name(std::string_view config) {
  std::map<std::string, ConfigSetting> settings;
  for_each_line(config, [&](std::string_view line, std::size_t) {
    if (auto setting = parse_line(line)) settings[setting->name] = *setting;
  });
  return settings;
}

}  // namespace

std::vector<ConfigSetting> parse_config_fragment(std::string_view text, std::string_view what) {
  std::vector<ConfigSetting> fragment;
  std::set<std::string> seen;
  for_each_line(text, [&](std::string_view line, std::size_t number) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto setting = parse_line(line);
    if (!setting) {
      if (is_comment_or_blank(line)) return;
      throw Error(std::string(what) + ": line " + std::to_string(number) + " " + quote(line) +
                  ": expected CONFIG_<NAME>=<value> or \"# CONFIG_<NAME> is not set\"");
    }
    if (setting->value && setting->value->empty())
      throw Error(std::string(what) + ": line " + std::to_string(number) + " " + quote(line) +
                  ": empty value (write \"# " + setting->name + " is not set\" to switch it off)");
    if (!seen.insert(setting->name).second)
      throw Error(std::string(what) + ": line " + std::to_string(number) + ": " + setting->name +
                  " is set more than once");
    fragment.push_back(std::move(*setting));
  });
  return fragment;
}

std::string apply_config_fragment(std::string_view config, const std::vector<ConfigSetting>& fragment) {
  std::set<std::string> named;
  for (const auto& setting : fragment) named.insert(setting.name);
  std::string out;
  for_each_line(config, [&](std::string_view line, std::size_t) {
    auto setting = parse_line(line);
    if (setting && named.count(setting->name)) return;
    out.append(line).push_back('\n');
  });
  for (const auto& setting : fragment) out += format(setting) + "\n";
  return out;
}

std::vector<std::string> unmet_config_settings(std::string_view config, const std::vector<ConfigSetting>& fragment) {
  auto settings = settings_by_name(config);
  std::vector<std::string> unmet;
  for (const auto& wanted : fragment) {
    auto it = settings.find(wanted.name);
    std::optional<std::string> got = it == settings.end() ? std::nullopt : it->second.value;
    if (got == wanted.value) continue;
    unmet.push_back(format(wanted) + " (got: " + (got ? *got : std::string("is not set")) + ")");
  }
  return unmet;
}

bool mounts_virtiofs_root_itself(std::string_view config) {
  auto settings = settings_by_name(config);
  for (const char* name : {"CONFIG_FUSE_FS", "CONFIG_VIRTIO_FS", "CONFIG_VIRTIO_CONSOLE", "CONFIG_VIRTIO_PCI",
                           "CONFIG_VIRTIO_MMIO", "CONFIG_DEVTMPFS_MOUNT"}) {
    auto it = settings.find(name);
    if (it == settings.end() || it->second.value != "y") return false;
  }
  return true;
}

}  // namespace runcvm::kernels
