#include "builder/kernels/modinfo.hpp"

#include <cstdint>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace runcvm::kernels {
namespace {

constexpr std::string_view kCompressedSuffixes[] = {".xz", ".gz", ".zst"};

// x86_64 and arm64 modules are little-endian, as is the host that reads them.
template <class T>
T read_le(std::string_view data, std::uint64_t offset, std::string_view what) {
  auto value = read_at<T>(data, offset);
  if (!value) throw Error(std::string(what) + ": truncated ELF (offset " + std::to_string(offset) + ")");
  return *value;
}

struct ElfView {
  std::string_view data;
  std::string_view what;
  std::uint64_t section_offset = 0;
  std::uint16_t section_size = 0, section_count = 0, names_index = 0;

  ElfView(std::string_view d, std::string_view w) : data(d), what(w) {
    if (data.size() < 64 || !data.starts_with("\x7f"
                                              "ELF"))
      throw Error(std::string(what) + ": not an ELF file");
    if (data[4] != 2 || data[5] != 1) throw Error(std::string(what) + ": not a 64-bit little-endian ELF file");
    section_offset = read_le<std::uint64_t>(data, 0x28, what);
    section_size = read_le<std::uint16_t>(data, 0x3a, what);
    section_count = read_le<std::uint16_t>(data, 0x3c, what);
    names_index = read_le<std::uint16_t>(data, 0x3e, what);
    if (section_count != 0 && section_size < 64) throw Error(std::string(what) + ": bad section header size");
    if (section_offset > data.size()) throw Error(std::string(what) + ": section headers lie outside the file");
  }

  std::uint64_t header(unsigned index) const { return section_offset + std::uint64_t{index} * section_size; }

  std::string_view section_bytes(unsigned index) const {
    std::uint64_t offset = read_le<std::uint64_t>(data, header(index) + 0x18, what);
    std::uint64_t size = read_le<std::uint64_t>(data, header(index) + 0x20, what);
    if (offset > data.size() || size > data.size() - offset)
      throw Error(std::string(what) + ": section " + std::to_string(index) + " lies outside the file");
    return data.substr(offset, size);
  }

  std::string_view find_section(std::string_view wanted) const {
    if (names_index >= section_count) throw Error(std::string(what) + ": no section name table");
    std::string_view names = section_bytes(names_index);
    for (unsigned i = 0; i < section_count; ++i) {
      std::uint32_t name_offset = read_le<std::uint32_t>(data, header(i), what);
      if (name_offset >= names.size()) continue;
      std::string_view name = names.substr(name_offset);
      name = name.substr(0, name.find('\0'));
      if (name == wanted) return section_bytes(i);
    }
    return {};
  }
};

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_modinfo(std::string_view elf, std::string_view what) {
  ElfView view(elf, what);
  std::string_view section = view.find_section(".modinfo");
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

bool elf_has_interpreter(std::string_view elf, std::string_view what) {
  ElfView view(elf, what);
  std::uint64_t program_offset = read_le<std::uint64_t>(elf, 0x20, what);
  std::uint16_t entry_size = read_le<std::uint16_t>(elf, 0x36, what);
  std::uint16_t count = read_le<std::uint16_t>(elf, 0x38, what);
  constexpr std::uint32_t kInterpreter = 3;  // PT_INTERP
  for (unsigned i = 0; i < count; ++i)
    if (read_le<std::uint32_t>(elf, program_offset + std::uint64_t{i} * entry_size, what) == kInterpreter) return true;
  return false;
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
