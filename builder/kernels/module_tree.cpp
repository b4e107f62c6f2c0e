#include "builder/kernels/module_tree.hpp"

#include <algorithm>

#include "builder/kernels/unpack.hpp"
#include "common/error.hpp"
#include "common/parallel.hpp"
#include "common/text.hpp"

namespace runcvm::kernels {
namespace {

std::vector<std::string> read_lines(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  return split_nonempty(read_file(file), '\n');
}

}  // namespace

std::string read_module(const fs::path& file) {
  std::string data = read_file(file);
  if (file.extension() == ".ko") return data;
  return decompress(data, file.string(), kModuleDecompressedLimit);
}

ModuleGraph scan_module_tree(const fs::path& modules_directory) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(modules_directory, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && is_module_file(it->path().filename().string())) files.push_back(it->path());
  }
  if (ec) throw system_error("listing", modules_directory.string(), ec.value());
  // Compressed modules (.ko.xz: Debian trixie, Ubuntu, Alpine) must be decompressed to read their
  // .modinfo; thousands of them make this CPU-bound, so it runs on every core.
  std::vector<ModuleInfo> modules(files.size());
  parallel_for(files.size(), hardware_threads(), [&](std::size_t i) {
    modules[i] = module_info_from_elf(read_module(files[i]), fs::relative(files[i], modules_directory).string());
  });
  std::sort(modules.begin(), modules.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  std::set<std::string> builtin;
  for (const auto& path : read_lines(modules_directory / "modules.builtin"))
    builtin.insert(module_name_from_path(path));
  return ModuleGraph(std::move(modules), std::move(builtin), read_lines(modules_directory / "modules.order"));
}

std::vector<std::string> write_module_indexes(const ModuleGraph& graph, const fs::path& dir) {
  std::vector<std::string> warnings;
  write_file_atomic(dir / "modules.dep", graph.render_modules_dep(&warnings));
  write_file_atomic(dir / "modules.dep.bin", graph.render_modules_dep_bin());
  write_file_atomic(dir / "modules.alias", graph.render_modules_alias());
  write_file_atomic(dir / "modules.alias.bin", graph.render_modules_alias_bin());
  write_file_atomic(dir / "modules.softdep", graph.render_modules_softdep());
  write_file_atomic(dir / "modules.devname", graph.render_modules_devname());
  write_file_atomic(dir / "modules.builtin.bin", graph.render_modules_builtin_bin());
  std::error_code ec;
  if (fs::exists(dir / "modules.builtin.modinfo", ec))
    write_file_atomic(dir / "modules.builtin.alias.bin",
                      render_builtin_alias_bin(read_file(dir / "modules.builtin.modinfo")));
  return warnings;
}

}  // namespace runcvm::kernels
