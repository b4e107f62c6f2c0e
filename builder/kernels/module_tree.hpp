// Reading a lib/modules/<version> tree from disk into a ModuleGraph, and writing kmod's files
// back into it.
#pragma once

#include <string>
#include <vector>

#include "builder/kernels/module_graph.hpp"
#include "common/file.hpp"

namespace runcvm::kernels {

ModuleGraph scan_module_tree(const fs::path& modules_directory);
// The module's ELF bytes, decompressed when the distribution ships .ko.xz/.gz/.zst.
std::string read_module(const fs::path& file);
// modules.dep, .alias, .softdep, .devname and the .bin indexes modprobe needs; returns warnings.
std::vector<std::string> write_module_indexes(const ModuleGraph& graph, const fs::path& modules_directory);

}  // namespace runcvm::kernels
