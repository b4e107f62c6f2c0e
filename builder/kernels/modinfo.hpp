// Kernel module metadata read straight from the ELF file: the .modinfo section is a sequence of
// NUL-terminated "key=value" strings (name, depends, alias, softdep, vermagic, …).
// Hand-written because the only need is one section of a trusted-format but untrusted-content
// file, and every offset must be bounds-checked (the parser is fuzzed).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace runcvm::kernels {

struct ModuleInfo {
  std::string name;  // '-' folded to '_', as the kernel and kmod name modules
  std::string path;  // relative to lib/modules/<version>/, e.g. kernel/fs/fuse/virtiofs.ko
  std::vector<std::string> depends;
  std::vector<std::string> aliases;
  std::vector<std::string> softdeps;  // raw "pre: a b post: c" values
};

std::vector<std::pair<std::string, std::string>> parse_modinfo(std::string_view elf, std::string_view what);
ModuleInfo module_info_from_elf(std::string_view elf, std::string_view relative_path);

std::string normalise_module_name(std::string_view name);
// "kernel/drivers/char/hw_random/virtio-rng.ko.xz" -> "virtio_rng"
std::string module_name_from_path(std::string_view path);
bool is_module_file(std::string_view path);
// "x.ko.xz" -> "x.ko"
std::string uncompressed_module_name(std::string_view path);

}  // namespace runcvm::kernels
