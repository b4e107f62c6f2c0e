// containerd's config.toml with runcvm registered or removed (see containerd_config.hpp).

#include "installer/containerd_config.hpp"

#include <toml++/toml.h>
#include <optional>
#include <sstream>

#include "common/error.hpp"

namespace runcvm::install {
namespace {

constexpr std::string_view kShim = "io.containerd.runc.v2";

std::string nothing_changed(const std::string& file_name, const std::string& what) {
  return file_name + ": " + what + "; nothing was changed";
}

toml::table parse_toml(std::string_view text, const std::string& file_name) {
  try {
    return toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    throw Error(nothing_changed(file_name, "not valid TOML (line " + std::to_string(e.source().begin.line) + ": " +
                                               std::string(e.description()) + ")"));
  }
}

// The CRI plugin's table that holds `runtimes`, by config version: containerd 1.x reads version 2,
// containerd 2.x version 3 (and migrates 2).
std::string cri_plugin(int64_t version) {
  return version == 3 ? "io.containerd.cri.v1.runtime" : "io.containerd.grpc.v1.cri";
}

std::string toml_string(std::string_view value) {
  std::ostringstream out;
  out << toml::value<std::string>(std::string(value));
  return out.str();
}

// A key as it may stand in a table header: bare where TOML allows, quoted otherwise.
std::string toml_key(std::string_view key) {
  bool bare =
      !key.empty() && key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
                          std::string_view::npos;
  return bare ? std::string(key) : toml_string(key);
}

struct Block {
  std::size_t begin;  // where the block's separator line (or its first marker) starts
  std::size_t end;    // just past its end marker's line
};

std::optional<Block> find_block(std::string_view text, const std::string& file_name) {
  auto line_at = [&](std::string_view marker) -> std::size_t {
    for (std::size_t at = text.find(marker); at != std::string_view::npos; at = text.find(marker, at + 1)) {
      bool starts_line = at == 0 || text[at - 1] == '\n';
      std::size_t after = at + marker.size();
      bool ends_line = after == text.size() || text[after] == '\n';
      if (starts_line && ends_line) return at;
    }
    return std::string_view::npos;
  };
  std::size_t begin = line_at(kContainerdBlockBegin);
  std::size_t end = line_at(kContainerdBlockEnd);
  if (begin == std::string_view::npos && end == std::string_view::npos) return std::nullopt;
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin)
    throw Error(nothing_changed(file_name, "runcvm-install's block is damaged (one of its marker lines \"" +
                                               std::string(kContainerdBlockBegin) + "\" and \"" +
                                               std::string(kContainerdBlockEnd) + "\" is missing or out of order)"))
        .with_hint("remove what is left of the block by hand, then install again");
  // The empty line that install put before the block goes with it.
  if (begin >= 2 && text[begin - 1] == '\n' && text[begin - 2] == '\n') --begin;
  end += kContainerdBlockEnd.size();
  if (end < text.size()) ++end;  // its newline
  return Block{begin, end};
}

}  // namespace

std::string without_containerd_runtime(std::string_view text, const std::string& file_name) {
  auto block = find_block(text, file_name);
  if (!block) return std::string(text);
  return std::string(text.substr(0, block->begin)) + std::string(text.substr(block->end));
}

std::string with_containerd_runtime(std::string_view text, const std::string& runtime_path,
                                    const std::string& file_name) {
  std::string base = without_containerd_runtime(text, file_name);
  toml::table config = parse_toml(base, file_name);
  // An absent file, or one of comments only, is containerd's defaults: the block starts it as a
  // version 2 file. A file with settings but no version is version 1, which runcvm-install does
  // not write (its CRI table has another name and shape).
  bool empty = config.empty();
  int64_t version = empty ? 2 : config["version"].value_or(int64_t{1});
  if (version != 2 && version != 3)
    throw Error(nothing_changed(file_name, "a version " + std::to_string(version) +
                                               " containerd config; runcvm-install registers runtimes in version 2 "
                                               "(containerd 1.x) and 3 (containerd 2.x) files only"))
        .with_hint("`containerd config default` writes a version 2 file to start from");

  std::string plugin = cri_plugin(version);
  auto containerd = config["plugins"][plugin]["containerd"];
  const toml::table* runtimes = containerd["runtimes"].as_table();
  std::string runtimes_path = "plugins." + toml_string(plugin) + ".containerd.runtimes";
  if (runtimes != nullptr && runtimes->contains(kContainerdRuntimeName))
    throw Error(nothing_changed(file_name, "it defines the runtime \"" + std::string(kContainerdRuntimeName) +
                                               "\" itself ([" + runtimes_path + "." +
                                               std::string(kContainerdRuntimeName) + "])"))
        .with_hint("remove that table to let runcvm-install manage it, or leave out --containerd");

  std::string block = std::string(kContainerdBlockBegin) + "\n";
  if (empty) block += "version = 2\n";
  if (runtimes == nullptr || runtimes->empty()) {
    std::string default_runtime = containerd["default_runtime_name"].value_or(std::string("runc"));
    block += "[" + runtimes_path + "." + toml_key(default_runtime) + "]\n  runtime_type = " + toml_string(kShim) + "\n";
  }
  std::string ours = runtimes_path + "." + std::string(kContainerdRuntimeName);
  block += "[" + ours + "]\n  runtime_type = " + toml_string(kShim) + "\n";
  block += "  [" + ours + ".options]\n    BinaryName = " + toml_string(runtime_path) + "\n";
  block += std::string(kContainerdBlockEnd) + "\n";

  if (!base.empty() && base.back() != '\n') base += '\n';
  std::string result = base.empty() ? block : base + "\n" + block;

  // The operator's file may shape its tables so that the block cannot be added to it (a runtimes
  // table given inline, say): the result is read back before it replaces anything.
  std::string where;
  try {
    toml::table check = toml::parse(result, file_name);
    auto entry = check["plugins"][plugin]["containerd"]["runtimes"][kContainerdRuntimeName];
    if (entry["runtime_type"].value_or(std::string()) == kShim &&
        entry["options"]["BinaryName"].value_or(std::string()) == runtime_path)
      return result;
    where = "the runtime's table does not read back as written";
  } catch (const toml::parse_error& e) {
    where = "line " + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
  }
  throw Error(nothing_changed(file_name, "adding [" + ours + "] to it does not give a valid config (" + where + ")"))
      .with_hint("register the runtime in that file yourself; the README shows the tables");
}

}  // namespace runcvm::install
