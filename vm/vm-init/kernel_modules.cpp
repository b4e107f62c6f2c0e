#include "vm/vm-init/kernel_modules.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"
#include "common/text.hpp"
#include "handoff/machine.hpp"

namespace runcvm::vm_init {
namespace {

std::string module_name_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  std::string name(path.substr(slash == std::string_view::npos ? 0 : slash + 1));
  if (std::size_t dot = name.find(".ko"); dot != std::string::npos) name.resize(dot);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// kmod compares aliases with '-' and '_' alike too, except inside a pattern's [...] sets.
std::string normalize_alias(std::string_view alias) {
  std::string out(alias);
  bool in_set = false;
  for (char& c : out) {
    if (c == '[') in_set = true;
    if (c == ']') in_set = false;
    if (c == '-' && !in_set) c = '_';
  }
  return out;
}

bool is_builtin(const ModuleIndexes& indexes, const std::string& name) {
  for (const std::string& line : split_nonempty(indexes.builtin, '\n'))
    if (module_name_of(line) == name) return true;
  return false;
}

// The built-in modules that carry `alias` ("virtiofs.alias=fs-virtiofs").
bool is_builtin_alias(const ModuleIndexes& indexes, const std::string& alias) {
  for (const std::string& entry : split_nonempty(indexes.builtin_modinfo, '\0')) {
    std::size_t key = entry.find(".alias=");
    if (key != std::string::npos &&
        ::fnmatch(normalize_alias(std::string_view(entry).substr(key + 7)).c_str(), alias.c_str(), 0) == 0)
      return true;
  }
  return false;
}

}  // namespace

ModuleIndexes read_module_indexes(const std::string& modules_dir) {
  auto read_if_there = [&](const char* name) {
    std::string path = modules_dir + "/" + name;
    return ::access(path.c_str(), R_OK) == 0 ? read_file(path) : std::string();
  };
  return {read_if_there("modules.dep"), read_if_there("modules.alias"), read_if_there("modules.builtin"),
          read_if_there("modules.builtin.modinfo")};
}

ModuleRequest resolve_module_request(const ModuleIndexes& indexes, std::string_view request) {
  ModuleRequest out;
  std::string name = module_name_of(request);
  if (is_builtin(indexes, name)) {
    out.builtin = true;
    return out;
  }
  if (auto files = load_order(indexes.dep, name); !files.empty()) {
    out.files = std::move(files);
    return out;
  }
  std::string alias = normalize_alias(request);
  if (is_builtin_alias(indexes, alias)) {
    out.builtin = true;
    return out;
  }
  for (const std::string& line : split_nonempty(indexes.alias, '\n')) {
    std::vector<std::string> words = split_nonempty(line, ' ');
    if (words.size() != 3 || words[0] != "alias") continue;
    if (::fnmatch(normalize_alias(words[1]).c_str(), alias.c_str(), 0) != 0) continue;
    std::string target = module_name_of(words[2]);
    if (is_builtin(indexes, target)) {
      out.builtin = true;
      continue;
    }
    for (std::string& file : load_order(indexes.dep, target))
      if (std::find(out.files.begin(), out.files.end(), file) == out.files.end()) out.files.push_back(std::move(file));
  }
  return out;
}

void load_module_file(const std::string& path) {
  // MODULE_INIT_COMPRESSED_FILE (Linux 5.17): the kernel decompresses what its config allows.
  constexpr int kCompressedFile = 4;
  bool compressed = path.ends_with(".xz") || path.ends_with(".zst") || path.ends_with(".gz");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw system_error("loading a module: opening", path, errno);
  if (::syscall(SYS_finit_module, fd.get(), "", compressed ? kCompressedFile : 0) != 0 && errno != EEXIST)
    throw system_error("loading the module", path, errno);
}

std::vector<std::string> device_drivers(const handoff::Launch& launch) {
  std::vector<std::string> out;
  if (launch.kernel.source == "image") {
    out.insert(out.end(), {"virtio_console", "virtio_net"});
    if (!launch.disks.empty()) out.push_back("virtio_blk");
    // The bundle's kernels have it in their initramfs (or built in); an image's kernel without it
    // only keeps the memory it frees.
    if (handoff::has_balloon(launch)) out.push_back("virtio_balloon");
  }
  if (launch.display_mode == "vnc") {
    if (launch.qemu.vga == "virtio")
      out.push_back("virtio-gpu");
    else if (launch.qemu.vga == "std")
      out.push_back("bochs");
    else if (launch.qemu.vga == "cirrus")
      out.push_back("cirrus");
  }
  // The panic device's driver (vm_command.cpp), where the kernel has it as a module.
  if (handoff::has_panic_device(launch.qemu)) out.push_back("pvpanic-mmio");
  if (launch.display_mode == "vnc" || launch.qemu.usb) out.push_back("xhci-pci");
  if (launch.display_mode == "vnc") out.insert(out.end(), {"usbhid", "hid-generic"});
  return out;
}

std::vector<std::string> load_order(std::string_view modules_dep, std::string_view name) {
  std::string wanted = module_name_of(name);
  for (const std::string& line : split_nonempty(modules_dep, '\n')) {
    std::size_t colon = line.find(':');
    if (colon == std::string::npos || module_name_of(std::string_view(line).substr(0, colon)) != wanted) continue;
    // modules.dep lists dependencies so that loading them from last to first works.
    std::vector<std::string> order = split_nonempty(std::string_view(line).substr(colon + 1), ' ');
    std::reverse(order.begin(), order.end());
    order.push_back(line.substr(0, colon));
    return order;
  }
  return {};
}

void load_drivers(const std::string& modules_dir, const std::vector<std::string>& names) {
  // The initramfs loads the drivers every VM needs (a template VM's are loaded before it is
  // saved): reading and parsing modules.dep over virtiofs, the slow part, is for the rest only.
  std::vector<std::string> missing;
  for (const auto& name : names)
    if (::access(("/sys/module/" + module_name_of(name)).c_str(), F_OK) != 0) missing.push_back(name);
  if (missing.empty()) return;
  std::string modules_dep = read_file(modules_dir + "/modules.dep");
  for (const auto& name : missing)
    for (const auto& relative : load_order(modules_dep, name)) try {
        load_module_file(modules_dir + "/" + relative);
      } catch (Error& e) {
        e.add_context("loading the driver " + name);
        throw;
      }
}

}  // namespace runcvm::vm_init
