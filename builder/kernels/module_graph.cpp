#include "builder/kernels/module_graph.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace runcvm::kernels {
namespace {

std::string path_module_name(const std::string& path) { return module_name_from_path(path); }

// kmod looks aliases up with '-' folded to '_' outside bracket expressions, so the binary
// index must store them that way (the text file keeps them as the module wrote them).
std::string alias_index_key(std::string_view alias) {
  std::string out(alias);
  bool in_brackets = false;
  for (char& c : out) {
    if (c == '[')
      in_brackets = true;
    else if (c == ']')
      in_brackets = false;
    else if (c == '-' && !in_brackets)
      c = '_';
  }
  return out;
}

// "char-major-10-229" -> {'c', "10:229"}; anything else -> nullopt.
std::optional<std::pair<char, std::string>> device_number_alias(std::string_view alias) {
  char type;
  if (alias.starts_with("char-major-"))
    type = 'c';
  else if (alias.starts_with("block-major-"))
    type = 'b';
  else
    return std::nullopt;
  std::string_view numbers = alias.substr(type == 'c' ? 11 : 12);
  size_t dash = numbers.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == numbers.size()) return std::nullopt;
  std::string_view major = numbers.substr(0, dash), minor = numbers.substr(dash + 1);
  auto digits = [](std::string_view s) { return s.find_first_not_of("0123456789") == std::string_view::npos; };
  if (!digits(major) || !digits(minor)) return std::nullopt;
  return std::pair{type, std::string(major) + ":" + std::string(minor)};
}

}  // namespace

ModuleGraph::ModuleGraph(std::vector<ModuleInfo> modules, std::set<std::string> builtin, std::vector<std::string> order)
    : modules_(std::move(modules)) {
  for (const auto& name : builtin) builtin_.insert(normalise_module_name(name));
  for (size_t i = 0; i < modules_.size(); ++i) {
    auto [it, inserted] = by_name_.emplace(modules_[i].name, i);
    if (!inserted)
      throw Error("two modules are named " + quote(modules_[i].name) + ": " + quote(modules_[it->second].path) +
                  " and " + quote(modules_[i].path));
  }
  // depmod's order: modules.order first, then the rest by path.
  std::map<std::string, size_t> rank;
  for (size_t i = 0; i < order.size(); ++i) rank.emplace(path_module_name(order[i]), i);
  for (const auto& m : modules_) ordered_.push_back(&m);
  std::stable_sort(ordered_.begin(), ordered_.end(), [&](const ModuleInfo* a, const ModuleInfo* b) {
    auto ra = rank.find(a->name), rb = rank.find(b->name);
    size_t ka = ra == rank.end() ? SIZE_MAX : ra->second, kb = rb == rank.end() ? SIZE_MAX : rb->second;
    return ka != kb ? ka < kb : a->path < b->path;
  });
}

const ModuleInfo* ModuleGraph::find(std::string_view name) const {
  auto it = by_name_.find(normalise_module_name(name));
  return it == by_name_.end() ? nullptr : &modules_[it->second];
}

void ModuleGraph::visit(const ModuleInfo& module, std::vector<const ModuleInfo*>& out, std::set<std::string>& done,
                        std::vector<std::string>& stack, std::vector<std::string>* missing) const {
  if (done.count(module.name)) return;
  if (std::find(stack.begin(), stack.end(), module.name) != stack.end()) {
    std::string cycle;
    for (auto it = std::find(stack.begin(), stack.end(), module.name); it != stack.end(); ++it) cycle += *it + " -> ";
    throw Error("module dependency cycle: " + cycle + module.name);
  }
  stack.push_back(module.name);
  std::vector<std::string> deps = module.depends;
  std::sort(deps.begin(), deps.end());  // deterministic order among independent dependencies
  for (const auto& dep : deps) {
    const ModuleInfo* target = find(dep);
    if (target != nullptr) {
      visit(*target, out, done, stack, missing);
    } else if (!is_builtin(dep)) {
      if (missing == nullptr)
        throw Error("module " + quote(module.name) + " depends on " + quote(dep) + ", which is not in the module tree");
      missing->push_back(module.name + " needs " + dep);
    }
  }
  stack.pop_back();
  done.insert(module.name);
  out.push_back(&module);
}

std::vector<const ModuleInfo*> ModuleGraph::load_order(const std::vector<std::string>& names) const {
  std::vector<const ModuleInfo*> out;
  std::set<std::string> done;
  std::vector<std::string> stack;
  for (const auto& name : names) {
    const ModuleInfo* module = find(name);
    if (module == nullptr) {
      if (is_builtin(normalise_module_name(name))) continue;
      throw Error("module " + quote(name) + " is neither in the module tree nor built into the kernel")
          .with_hint("check the recipe's `initramfs_modules`");
    }
    visit(*module, out, done, stack, nullptr);
  }
  return out;
}

std::vector<std::string> ModuleGraph::dependency_line(const ModuleInfo& module,
                                                      std::vector<std::string>* missing) const {
  std::vector<const ModuleInfo*> order;
  std::set<std::string> done;
  std::vector<std::string> stack;
  visit(module, order, done, stack, missing);
  order.pop_back();  // the module itself comes last in its own load order
  std::vector<std::string> line;
  for (auto it = order.rbegin(); it != order.rend(); ++it) line.push_back((*it)->path);
  return line;
}

std::string ModuleGraph::render_modules_dep(std::vector<std::string>* warnings) const {
  std::string out;
  for (const ModuleInfo* m : ordered_) {
    out += m->path + ":";
    for (const auto& dep : dependency_line(*m, warnings)) out += " " + dep;
    out += "\n";
  }
  return out;
}

std::string ModuleGraph::render_modules_alias() const {
  std::string out = "# Aliases extracted from modules themselves.\n";
  for (const ModuleInfo* m : ordered_)
    for (const auto& alias : m->aliases) out += "alias " + alias + " " + m->name + "\n";
  return out;
}

std::string ModuleGraph::render_modules_softdep() const {
  std::string out = "# Soft dependencies extracted from modules themselves.\n";
  for (const ModuleInfo* m : ordered_)
    for (const auto& softdep : m->softdeps) out += "softdep " + m->name + " " + softdep + "\n";
  return out;
}

std::string ModuleGraph::render_modules_devname() const {
  std::string out = "# Device nodes to trigger on-demand module loading.\n";
  for (const ModuleInfo* m : ordered_) {
    std::string devname;
    std::optional<std::pair<char, std::string>> number;
    for (const auto& alias : m->aliases) {
      if (alias.starts_with("devname:"))
        devname = alias.substr(8);
      else if (auto n = device_number_alias(alias))
        number = n;
    }
    if (!devname.empty() && number) out += m->name + " " + devname + " " + number->first + number->second + "\n";
  }
  return out;
}

std::string ModuleGraph::render_modules_dep_bin() const {
  KmodIndexWriter index;
  std::vector<std::string> ignored;
  unsigned priority = 0;
  for (const ModuleInfo* m : ordered_) {
    std::string value = m->path + ":";
    for (const auto& dep : dependency_line(*m, &ignored)) value += " " + dep;
    index.insert(m->name, value, priority++);
  }
  return index.serialize();
}

std::string ModuleGraph::render_modules_alias_bin() const {
  KmodIndexWriter index;
  unsigned priority = 0;
  for (const ModuleInfo* m : ordered_) {
    for (const auto& alias : m->aliases) index.insert(alias_index_key(alias), m->name, priority);
    ++priority;
  }
  return index.serialize();
}

std::string ModuleGraph::render_modules_builtin_bin() const {
  KmodIndexWriter index;
  for (const auto& name : builtin_) index.insert(name, "", 0);
  return index.serialize();
}

std::string render_builtin_alias_bin(std::string_view builtin_modinfo) {
  KmodIndexWriter index;
  while (!builtin_modinfo.empty()) {
    size_t end = builtin_modinfo.find('\0');
    std::string_view item = builtin_modinfo.substr(0, end);
    builtin_modinfo = end == std::string_view::npos ? std::string_view{} : builtin_modinfo.substr(end + 1);
    size_t dot = item.find('.');
    if (dot == std::string_view::npos || item.substr(dot + 1, 6) != "alias=") continue;
    index.insert(alias_index_key(item.substr(dot + 7)), normalise_module_name(item.substr(0, dot)), 0);
  }
  return index.serialize();
}

void KmodIndexWriter::insert(std::string_view key, std::string_view value, unsigned priority) {
  Node* node = &root_;
  for (unsigned char c : key) node = &node->children[c];
  auto entry = std::make_pair(priority, std::string(value));
  if (std::find(node->values.begin(), node->values.end(), entry) != node->values.end()) return;
  node->values.push_back(std::move(entry));
  std::stable_sort(node->values.begin(), node->values.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

std::uint32_t KmodIndexWriter::write_node(const Node& start, std::string& out) {
  constexpr std::uint32_t kPrefix = 0x80000000, kValues = 0x40000000, kChildren = 0x20000000;
  // Chains of single-child nodes without values collapse into the node's prefix string.
  std::string prefix;
  const Node* node = &start;
  while (node->values.empty() && node->children.size() == 1) {
    prefix += static_cast<char>(node->children.begin()->first);
    node = &node->children.begin()->second;
  }
  std::map<unsigned char, std::uint32_t> child_offsets;
  for (const auto& [c, child] : node->children) child_offsets[c] = write_node(child, out);

  auto offset = static_cast<std::uint32_t>(out.size());
  std::uint32_t flags = 0;
  if (!prefix.empty()) {
    flags |= kPrefix;
    out += prefix;
    out += '\0';
  }
  if (!child_offsets.empty()) {
    flags |= kChildren;
    unsigned char first = child_offsets.begin()->first, last = child_offsets.rbegin()->first;
    out += static_cast<char>(first);
    out += static_cast<char>(last);
    for (unsigned c = first; c <= last; ++c) {
      auto it = child_offsets.find(static_cast<unsigned char>(c));
      append_big_endian<std::uint32_t>(out, it == child_offsets.end() ? 0 : it->second);
    }
  }
  if (!node->values.empty()) {
    flags |= kValues;
    append_big_endian<std::uint32_t>(out, static_cast<std::uint32_t>(node->values.size()));
    for (const auto& [priority, value] : node->values) {
      append_big_endian<std::uint32_t>(out, priority);
      out += value;
      out += '\0';
    }
  }
  if (out.size() >= 0x10000000) throw Error("kmod index larger than 256 MiB");
  return offset | flags;
}

std::string KmodIndexWriter::serialize() const {
  std::string out;
  append_big_endian<std::uint32_t>(out, 0xB007F457);
  append_big_endian<std::uint32_t>(out, 0x00020001);
  append_big_endian<std::uint32_t>(out, 0);  // root offset, patched below
  std::uint32_t root = write_node(root_, out);
  store_big_endian<std::uint32_t>(out, 8, root);
  return out;
}

}  // namespace runcvm::kernels
