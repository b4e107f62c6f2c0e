#include "builder/kernels/modinfo.hpp"

#include <cstdint>

#include "common/elf.hpp"
#include "common/error.hpp"

namespace runcvm::kernels {
namespace {

constexpr std::string_view kCompressedSuffixes[] = {".xz", ".gz", ".zst"};

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_modinfo(std::string_view elf, std::string_view what) {
  std::string_view section = ElfFile(elf, std::string(what)).section(".modinfo");
  std::vector<std::pair<std::string, std::string>> fields;
  while (!section.empty()) {
    size_t end = section.find('\0');
    std::string_view item = section.substr(0, end);
    section = end == std::string_view::npos ? std::string_view{} : section.substr(end + 1);
    size_t eq = item.find('=');
    if (item.empty() || eq == std::string_view::npos) continue;  // alignment padding
    fields.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return fields;
}

ModuleInfo module_info_from_elf(std::string_view elf, std::string_view relative_path) {
  ModuleInfo info;
  info.path = std::string(relative_path);
  info.name = module_name_from_path(relative_path);
  for (auto& [key, value] : parse_modinfo(elf, relative_path)) {
    if (key == "depends") {
      std::string_view rest = value;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        if (comma != 0) info.depends.push_back(normalise_module_name(rest.substr(0, comma)));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (key == "alias") {
      info.aliases.push_back(std::move(value));
    } else if (key == "softdep") {
      info.softdeps.push_back(std::move(value));
    } else if (key == "name") {
      info.name = normalise_module_name(value);
    }
  }
  return info;
}

std::string normalise_module_name(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c == '-') c = '_';
  return out;
}

bool is_module_file(std::string_view path) {
  for (auto suffix : kCompressedSuffixes)
    if (path.size() > suffix.size() && path.ends_with(suffix)) path.remove_suffix(suffix.size());
  return path.size() > 3 && path.ends_with(".ko");
}

std::string uncompressed_module_name(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') + 1);
  for (auto suffix : kCompressedSuffixes)
    if (base.size() > suffix.size() && base.ends_with(suffix))
      return std::string(base.substr(0, base.size() - suffix.size()));
  return std::string(base);
}

std::string module_name_from_path(std::string_view path) {
  std::string base = uncompressed_module_name(path);
  if (base.size() > 3 && base.ends_with(".ko")) base.resize(base.size() - 3);
  return normalise_module_name(base);
}

}  // namespace runcvm::kernels
