// The depmod equivalent: module dependencies resolved from each module's `depends=` field into
// load orders, and rendered as the files kmod reads (modules.dep, .alias, .softdep and their
// binary indexes). Pure: modules in, text out.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "builder/kernels/modinfo.hpp"

namespace runcvm::kernels {

class ModuleGraph {
 public:
  // `builtin` are names of modules compiled into the kernel (from modules.builtin); `order` is
  // modules.order (paths), which fixes the order of the rendered files as depmod does.
  ModuleGraph(std::vector<ModuleInfo> modules, std::set<std::string> builtin, std::vector<std::string> order);

  const ModuleInfo* find(std::string_view name) const;
  bool is_builtin(std::string_view name) const { return builtin_.count(std::string(name)) != 0; }

  // Every module needed to load `names`, each after its dependencies, each once. Builtin names
  // are skipped; an unknown name, a missing dependency or a cycle is an error naming it.
  std::vector<const ModuleInfo*> load_order(const std::vector<std::string>& names) const;

  // modules.dep: "path: deps…" where deps are listed so that loading them from last to first
  // (as modprobe does) satisfies every dependency. Missing dependencies are dropped with a warning
  // in `warnings`, as depmod does, so one broken out-of-tree module cannot block the kernel.
  std::string render_modules_dep(std::vector<std::string>* warnings) const;
  std::string render_modules_alias() const;
  std::string render_modules_softdep() const;
  // modules.devname: nodes `kmod static-nodes` creates so that opening them loads the module
  // (/dev/fuse, /dev/net/tun, /dev/loop-control, …).
  std::string render_modules_devname() const;

  // kmod's binary indexes: modules.dep.bin, modules.alias.bin, modules.builtin.bin.
  std::string render_modules_dep_bin() const;
  std::string render_modules_alias_bin() const;
  std::string render_modules_builtin_bin() const;

 private:
  void visit(const ModuleInfo& module, std::vector<const ModuleInfo*>& out, std::set<std::string>& done,
             std::vector<std::string>& stack, std::vector<std::string>* missing) const;
  std::vector<std::string> dependency_line(const ModuleInfo& module, std::vector<std::string>* missing) const;

  std::vector<ModuleInfo> modules_;
  std::map<std::string, size_t, std::less<>> by_name_;
  std::set<std::string> builtin_;
  // Modules in the order rendered files list them.
  std::vector<const ModuleInfo*> ordered_;
};

// modules.builtin.alias.bin from modules.builtin.modinfo (NUL-separated "module.key=value"), so
// that modprobe resolves an alias of a built-in module ("fs-virtiofs") to "builtin virtiofs".
std::string render_builtin_alias_bin(std::string_view builtin_modinfo);

// The trie index format of kmod (libkmod-index): big-endian header (magic 0xB007F457, version
// 2.1, root offset) followed by nodes written children-first; each node has an optional prefix
// string, an optional child table for a range of bytes, and optional prioritised values.
class KmodIndexWriter {
 public:
  void insert(std::string_view key, std::string_view value, unsigned priority);
  std::string serialize() const;

 private:
  struct Node {
    std::map<unsigned char, Node> children;
    std::vector<std::pair<unsigned, std::string>> values;
  };
  static std::uint32_t write_node(const Node& node, std::string& out);
  Node root_;
};

}  // namespace runcvm::kernels
