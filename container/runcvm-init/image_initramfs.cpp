#include "container/runcvm-init/image_initramfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "common/error.hpp"
#include "common/text.hpp"
#include "container/runcvm-init/held_files.hpp"
#include "handoff/kernel_artifact.hpp"

namespace runcvm::container_init {
namespace {

namespace artifact = handoff::kernel_artifact;

constexpr std::string_view kModuleSuffixes[] = {".ko", ".ko.xz", ".ko.gz", ".ko.zst"};

std::string_view basename_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "kernel/drivers/char/hw_random/virtio-rng.ko.xz" -> "virtio_rng": kmod names fold '-' to '_'.
std::string module_name(std::string_view path) {
  std::string name(basename_of(path));
  name = name.substr(0, name.find(".ko"));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string trimmed(std::string_view text) {
  std::size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  std::size_t end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

// modules.dep by module name: the module's path and its dependencies' paths as listed.
struct DepEntry {
  std::string path;
  std::vector<std::string> dependencies;
};

// Only the lines of `wanted` names are kept (the first of each, as modprobe reads them); a line
// naming more than `max_dependencies` is refused before its words are copied.
std::map<std::string, DepEntry> parse_modules_dep(std::string_view modules_dep, const std::set<std::string>& wanted,
                                                  std::size_t max_dependencies, std::string_view version,
                                                  std::string_view where) {
  std::map<std::string, DepEntry> entries;
  while (!modules_dep.empty()) {
    std::string_view line = modules_dep.substr(0, modules_dep.find('\n'));
    modules_dep.remove_prefix(std::min(modules_dep.size(), line.size() + 1));
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string path = trimmed(line.substr(0, colon));
    std::string name = module_name(path);
    if (!wanted.count(name) || entries.count(name)) continue;
    DepEntry entry{std::move(path), {}};
    std::string_view rest = line.substr(colon + 1);
    while (!rest.empty()) {
      std::string_view word = rest.substr(0, rest.find(' '));
      rest.remove_prefix(std::min(rest.size(), word.size() + 1));
      std::string dependency = trimmed(word);
      if (dependency.empty()) continue;
      if (entry.dependencies.size() == max_dependencies)
        throw Error("the image's kernel " + quote(version) + " needs more than " + std::to_string(max_dependencies) +
                    " modules to mount its root (" + std::string(where) + "/modules.dep: " + quote(entry.path) + ")");
      entry.dependencies.push_back(std::move(dependency));
    }
    entries.emplace(std::move(name), std::move(entry));
  }
  return entries;
}

std::string hex8(std::uint64_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08llx", static_cast<unsigned long long>(value));
  return text;
}

void pad4(std::string& out) { out.append((4 - out.size() % 4) % 4, '\0'); }

void append_cpio_entry(std::string& out, std::uint64_t inode, const CpioEntry& entry) {
  bool directory = (entry.mode & S_IFMT) == S_IFDIR;
  // newc: magic, then ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
  // rdevminor, namesize (with its NUL), check; each eight hex digits.
  out += "070701";
  for (std::uint64_t field : {inode, std::uint64_t{entry.mode}, std::uint64_t{0}, std::uint64_t{0},
                              std::uint64_t{directory ? 2u : 1u}, std::uint64_t{0}, std::uint64_t{entry.data.size()},
                              std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{entry.rdev_major},
                              std::uint64_t{entry.rdev_minor}, std::uint64_t{entry.path.size() + 1}, std::uint64_t{0}})
    out += hex8(field);
  out += entry.path;
  out += '\0';
  pad4(out);
  out += entry.data;
  pad4(out);
}

// The image's modules directory for `version`: the first of the usual places that has a
// modules.dep (Debian, Ubuntu, Alpine: /lib/modules; merged-/usr layouts: /usr/lib/modules).
std::vector<std::string> module_directories(std::string_view version) {
  return {"/lib/modules/" + std::string(version), "/usr/lib/modules/" + std::string(version)};
}

// A file of the image: regular, at most `limit` bytes; nothing when absent.
std::optional<std::string> read_image_file(const ContainerRoot& root, const std::string& path, std::uint64_t limit) {
  UniqueFd fd = root.open_regular(path, O_RDONLY);
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw system_error("reading the image's", path, errno);
  if (static_cast<std::uint64_t>(st.st_size) > limit)
    throw Error("the image's " + quote(path) + " is " + std::to_string(st.st_size) + " bytes, more than the " +
                std::to_string(limit) + " runcvm reads of it for the initramfs");
  return read_held_file(fd.get(), path, static_cast<std::size_t>(st.st_size));
}

}  // namespace

std::vector<std::string> root_module_names(std::string_view machine) {
  return {"virtio", "virtio_ring", machine == "microvm" ? "virtio_mmio" : "virtio_pci", "fuse", "virtiofs"};
}

bool is_plain_module_path(std::string_view path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/' || path.back() == '/') return false;
  if (!std::any_of(std::begin(kModuleSuffixes), std::end(kModuleSuffixes),
                   [&](std::string_view suffix) { return path.ends_with(suffix); }))
    return false;
  for (char c : path)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '+' || c == '/'))
      return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = std::min(path.find('/', start), path.size());
    std::string_view step = path.substr(start, end - start);
    if (step.empty() || step == "." || step == "..") return false;
    start = end + 1;
  }
  return true;
}

std::vector<std::string> select_root_modules(std::string_view modules_dep, std::string_view modules_builtin,
                                             const std::vector<std::string>& wanted, std::size_t max_count,
                                             std::string_view version, std::string_view where) {
  std::set<std::string> wanted_names;
  for (const std::string& name : wanted) wanted_names.insert(module_name(name));
  std::map<std::string, DepEntry> entries = parse_modules_dep(modules_dep, wanted_names, max_count, version, where);
  const std::string place(where);
  std::set<std::string> builtin;
  while (!modules_builtin.empty()) {
    std::string_view line = modules_builtin.substr(0, modules_builtin.find('\n'));
    modules_builtin.remove_prefix(std::min(modules_builtin.size(), line.size() + 1));
    std::string name = module_name(trimmed(line));
    if (wanted_names.count(name)) builtin.insert(std::move(name));
  }
  std::vector<std::string> order;
  std::set<std::string> chosen;
  auto add = [&](const std::string& path) {
    if (!is_plain_module_path(path))
      throw Error("the image's kernel " + quote(version) + ": " + place + "/modules.dep names " + quote(path) +
                  ", not a plain relative module path");
    if (!chosen.insert(path).second) return;
    if (order.size() == max_count)
      throw Error("the image's kernel " + quote(version) + " needs more than " + std::to_string(max_count) +
                  " modules to mount its root (" + place + "/modules.dep)");
    order.push_back(path);
  };
  for (const std::string& name : wanted) {
    auto found = entries.find(module_name(name));
    if (found == entries.end()) {
      if (builtin.count(module_name(name))) continue;
      throw Error("the image's kernel " + quote(version) + " has no module " + quote(name) + " (looked in " + place +
                  "/modules.dep and modules.builtin)")
          .with_hint("install the kernel's modules in the image, or set RUNCVM_KERNEL=debian to boot a bundle kernel");
    }
    // depmod lists dependencies so that loading them from last to first satisfies each.
    const auto& dependencies = found->second.dependencies;
    for (auto it = dependencies.rbegin(); it != dependencies.rend(); ++it) add(*it);
    add(found->second.path);
  }
  return order;
}

std::string write_cpio(std::vector<CpioEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  std::string out;
  std::uint64_t inode = 1;
  for (const auto& entry : entries) append_cpio_entry(out, inode++, entry);
  append_cpio_entry(out, 0, {"TRAILER!!!", 0, {}, 0, 0});
  return out;
}

std::vector<CpioEntry> plan_image_initramfs(std::string init_program,
                                            std::vector<std::pair<std::string, std::string>> modules_in_order) {
  std::vector<CpioEntry> entries;
  for (const char* dir : {"dev", "proc", "sys", "newroot", artifact::kInitramfsModules})
    entries.push_back({dir, S_IFDIR | 0755, {}, 0, 0});
  // The kernel opens /dev/console for init's stdio before anything can mount devtmpfs; 5:1 is the
  // console's fixed number in the kernel's device ABI (Documentation/admin-guide/devices.txt).
  entries.push_back({"dev/console", S_IFCHR | 0600, {}, 5, 1});
  entries.push_back({artifact::kInitramfsInit, S_IFREG | 0755, std::move(init_program), 0, 0});
  std::string order;
  std::set<std::string> names;
  for (auto& [path, data] : modules_in_order) {
    std::string name(basename_of(path));
    if (!names.insert(name).second)
      throw Error("the image's modules " + quote(path) + " and another have the same file name " + quote(name));
    entries.push_back({std::string(artifact::kInitramfsModules) + "/" + name, S_IFREG | 0644, std::move(data), 0, 0});
    order += name + "\n";
  }
  entries.push_back({artifact::kInitramfsLoadOrder, S_IFREG | 0644, order, 0, 0});
  return entries;
}

// Compressed modules (.ko.xz on Debian trixie, .ko.zst on Ubuntu, .ko.gz on Alpine) are copied as
// they are and runcvm-initramfs-init hands them to the VM's kernel with
// MODULE_INIT_COMPRESSED_FILE: a kernel that ships compressed modules is built to decompress them
// (CONFIG_MODULE_DECOMPRESS), so no decompressor for hostile input runs in this static,
// privileged process, and runcvm-init links no compression library.
std::string build_image_initramfs(const ContainerRoot& root, std::string_view version, std::string_view machine,
                                  std::string init_program, const ImageModuleLimits& limits) {
  if (version.empty())
    throw Error("the image's kernel has no release to find its modules by (no single /lib/modules/<version>)")
        .with_hint("set RUNCVM_KERNEL=debian to boot a bundle kernel");
  if (version == "." || version == ".." || version.find('/') != std::string_view::npos)
    throw Error("the image's kernel version " + quote(version) + " is not a directory name");
  std::vector<std::string> directories = module_directories(version);
  std::string where = directories.front(), modules_dep, modules_builtin;
  bool found = false;
  for (const std::string& directory : directories) {
    std::optional<std::string> dep = read_image_file(root, directory + "/modules.dep", limits.index_file);
    if (!dep) continue;
    where = directory;
    modules_dep = std::move(*dep);
    modules_builtin = read_image_file(root, directory + "/modules.builtin", limits.index_file).value_or("");
    found = true;
    break;
  }
  if (!found)
    throw Error("the image's kernel " + quote(version) + " has no modules.dep in " + directories[0] + " or " +
                directories[1])
        .with_hint(
            "install the kernel's modules in the image (depmod), or set RUNCVM_KERNEL=debian to boot a bundle "
            "kernel");
  std::vector<std::string> order =
      select_root_modules(modules_dep, modules_builtin, root_module_names(machine), limits.count, version, where);
  std::vector<std::pair<std::string, std::string>> modules;
  std::uint64_t total = 0;
  for (const std::string& path : order) {
    std::string file = where + "/" + path;
    std::optional<std::string> data = read_image_file(root, file, limits.file);
    if (!data)
      throw Error("the image's kernel " + quote(version) + " has no module file " + quote(file) +
                  " (listed in its modules.dep)");
    total += data->size();
    if (total > limits.total)
      throw Error("the image's kernel " + quote(version) + ": the modules to mount its root exceed " +
                  std::to_string(limits.total >> 20) + " MiB (" + where + ")");
    modules.emplace_back(path, std::move(*data));
  }
  return write_cpio(plan_image_initramfs(std::move(init_program), std::move(modules)));
}

}  // namespace runcvm::container_init
