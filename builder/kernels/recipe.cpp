#include "builder/kernels/recipe.hpp"

#include <nlohmann/json.hpp>

#include <set>

#include "common/error.hpp"

namespace runcvm::kernels {
namespace {

using Json = nlohmann::json;

// Collects violations so the user sees all of them in one run.
class Checker {
 public:
  void fail(std::string field, std::string problem) { problems_.push_back("field `" + field + "`: " + problem); }
  bool ok() const { return problems_.empty(); }
  std::string joined() const {
    std::string out;
    for (const auto& p : problems_) out += (out.empty() ? "" : "; ") + p;
    return out;
  }

  std::string string_field(const Json& object, const std::string& key, const std::string& path, bool required) {
    auto it = object.find(key);
    if (it == object.end()) {
      if (required) fail(path + key, "is required");
      return {};
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
      fail(path + key, "expected a non-empty string, got " + it->dump());
      return {};
    }
    return it->get<std::string>();
  }

  std::vector<std::string> string_list(const Json& object, const std::string& key, const std::string& path,
                                       bool required) {
    auto it = object.find(key);
    std::vector<std::string> out;
    if (it == object.end()) {
      if (required) fail(path + key, "is required");
      return out;
    }
    if (!it->is_array()) {
      fail(path + key, "expected a list of strings, got " + it->dump());
      return out;
    }
    for (const auto& item : *it) {
      if (item.is_string() && !item.get<std::string>().empty())
        out.push_back(item.get<std::string>());
      else
        fail(path + key, "expected a list of non-empty strings, found " + item.dump());
    }
    return out;
  }

  void reject_unknown(const Json& object, const std::set<std::string>& known, const std::string& path) {
    for (const auto& [key, value] : object.items()) {
      if (known.count(key) == 0) {
        std::string names;
        for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
        fail(path + key, "unknown field (known: " + names + ")");
      }
    }
  }

 private:
  std::vector<std::string> problems_;
};

const std::set<std::string> kRecipeKeys = {
    "dist",        "format", "architecture", "sources",           "keyring",
    "package",     "follow", "kernel_image", "initramfs_modules", "initramfs_compression",
    "description", "build"};
const std::set<std::string> kSourceKeys = {"mirror", "suite", "components"};
const std::set<std::string> kBuildKeys = {"tarball", "base_config", "config_fragment", "image"};

bool is_config_target(const std::string& target) {
  if (target.size() <= 6 || !target.ends_with("config")) return false;
  for (char c : target)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// Paths inside the source tree or package: relative, and never climbing out of it.
bool is_inner_path(const std::string& path) {
  if (path.empty() || path.front() == '/') return false;
  return ("/" + path + "/").find("/../") == std::string::npos;
}

std::optional<SourceBuild> parse_build(Checker& check, const Json& root) {
  auto it = root.find("build");
  if (it == root.end()) return std::nullopt;
  if (!it->is_object()) {
    check.fail("build", "expected an object {tarball, base_config, config_fragment, image}, got " + it->dump());
    return std::nullopt;
  }
  check.reject_unknown(*it, kBuildKeys, "build.");
  SourceBuild build;
  build.tarball = check.string_field(*it, "tarball", "build.", true);
  build.base_config = check.string_field(*it, "base_config", "build.", true);
  build.config_fragment = check.string_field(*it, "config_fragment", "build.", true);
  build.image = check.string_field(*it, "image", "build.", true);
  if (!build.tarball.empty() && !is_inner_path(build.tarball))
    check.fail("build.tarball", quote(build.tarball) + " must be a relative path inside the package");
  if (!build.base_config.empty() && !is_config_target(build.base_config))
    check.fail("build.base_config", quote(build.base_config) + " is not a config target (e.g. defconfig, tinyconfig)");
  if (!build.config_fragment.empty() &&
      (build.config_fragment.find('/') != std::string::npos || build.config_fragment.front() == '.'))
    check.fail("build.config_fragment", quote(build.config_fragment) + " must be a file name beside the recipe");
  if (!build.image.empty() && !is_inner_path(build.image))
    check.fail("build.image", quote(build.image) + " must be a relative path inside the source tree");
  return build;
}

std::vector<RepositorySource> parse_sources(Checker& check, const Json& root) {
  std::vector<RepositorySource> sources;
  auto it = root.find("sources");
  if (it == root.end()) {
    check.fail("sources", "is required");
    return sources;
  }
  if (!it->is_array() || it->empty()) {
    check.fail("sources", "expected a non-empty list of {mirror, suite, components}");
    return sources;
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& item = (*it)[i];
    std::string path = "sources[" + std::to_string(i) + "].";
    if (!item.is_object()) {
      check.fail(path.substr(0, path.size() - 1), "expected an object, got " + item.dump());
      continue;
    }
    check.reject_unknown(item, kSourceKeys, path);
    RepositorySource source;
    source.mirror = check.string_field(item, "mirror", path, true);
    source.suite = check.string_field(item, "suite", path, true);
    source.components = check.string_list(item, "components", path, true);
    if (!source.mirror.empty() && !source.mirror.starts_with("http://") && !source.mirror.starts_with("https://") &&
        !source.mirror.starts_with("file:///"))
      check.fail(path + "mirror", quote(source.mirror) + " is not an http://, https:// or file:/// URL");
    while (!source.mirror.empty() && source.mirror.back() == '/') source.mirror.pop_back();
    sources.push_back(std::move(source));
  }
  return sources;
}

}  // namespace

Recipe parse_recipe(std::string_view json_text, std::string_view name) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& e) {  // parse errors, and out_of_range for numbers too large
    throw Error(std::string("recipe ") + quote(name) + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw Error("recipe " + quote(name) + ": expected a JSON object at the top level");

  Checker check;
  check.reject_unknown(root, kRecipeKeys, "");
  Recipe recipe;
  recipe.name = std::string(name);
  recipe.dist = check.string_field(root, "dist", "", true);
  if (recipe.dist.find('/') != std::string::npos || recipe.dist == "." || recipe.dist == "..")
    check.fail("dist", quote(recipe.dist) + " must be a plain name (it becomes kernels/<dist>/)");
  std::string format = check.string_field(root, "format", "", true);
  if (format == "deb")
    recipe.format = RepositoryFormat::deb;
  else if (format == "apk")
    recipe.format = RepositoryFormat::apk;
  else if (!format.empty())
    check.fail("format", quote(format) + " is not a known repository format (deb, apk)");
  recipe.architecture = check.string_field(root, "architecture", "", true);
  recipe.sources = parse_sources(check, root);
  recipe.keyring = check.string_field(root, "keyring", "", true);
  recipe.package = check.string_field(root, "package", "", true);
  recipe.follow = check.string_list(root, "follow", "", false);
  recipe.kernel_image = check.string_field(root, "kernel_image", "", true);
  recipe.initramfs_modules = check.string_list(root, "initramfs_modules", "", true);
  if (root.contains("initramfs_compression")) {
    std::string compression = check.string_field(root, "initramfs_compression", "", false);
    if (compression == "gzip")
      recipe.initramfs_compression = Compression::gzip;
    else if (compression != "zstd" && !compression.empty())
      check.fail("initramfs_compression", quote(compression) + " is not supported (zstd, gzip)");
  }
  recipe.build = parse_build(check, root);
  if (recipe.build && recipe.format != RepositoryFormat::deb)
    check.fail("build", "building from source needs a deb source package (format \"deb\")");
  if (!check.ok()) throw Error("recipe " + quote(name) + ": " + check.joined());
  return recipe;
}

std::string_view to_string(RepositoryFormat format) { return format == RepositoryFormat::deb ? "deb" : "apk"; }
std::string_view to_string(Compression compression) { return compression == Compression::zstd ? "zstd" : "gzip"; }

}  // namespace runcvm::kernels
