#include "builder/kernels/source_build.hpp"

#include <fnmatch.h>

#include <map>

#include "builder/kernels/kernel_config.hpp"
#include "builder/kernels/unpack.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"

namespace runcvm::kernels {
namespace {

// The tools a kernel build runs, and the Debian packages that have them.
constexpr const char* kBuildTools[][2] = {{"gcc", "gcc"},     {"make", "make"}, {"ld", "binutils"}, {"flex", "flex"},
                                          {"bison", "bison"}, {"bc", "bc"},     {"perl", "perl"},   {"cpio", "cpio"}};
constexpr const char* kBuildPackages = "gcc make binutils flex bison bc perl cpio libelf-dev libssl-dev";

class Make {
 public:
  Make(fs::path source, std::time_t timestamp, fs::path log)
      : source_(std::move(source)), timestamp_(timestamp), log_(std::move(log)) {}

  // Runs make with `arguments` in the source tree; the kernel's own reproducibility knobs pin
  // the build's date, user and host.
  std::string run(const std::vector<std::string>& arguments) const {
    std::vector<std::string> argv = {"env",
                                     "KBUILD_BUILD_TIMESTAMP=@" + std::to_string(static_cast<long long>(timestamp_)),
                                     "KBUILD_BUILD_USER=runcvm",
                                     "KBUILD_BUILD_HOST=runcvm-build",
                                     "make",
                                     "-C",
                                     source_.string(),
                                     "-s"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    ProcessResult result = run_process(argv);
    if (result.exit_code == 0) return result.standard_output;
    std::string command = "make";
    for (const auto& a : arguments) command += " " + a;
    make_directories(log_.parent_path());
    write_file_atomic(log_, result.standard_output + result.standard_error);
    throw Error(command + " failed (exit " + std::to_string(result.exit_code) + "): " + first_error(result) +
                "; its whole output: " + log_.string());
  }

 private:
  // The compiler's own verdict, rather than make's "Error 1" lines that follow it.
  static std::string first_error(const ProcessResult& result) {
    std::string text = result.standard_error;
    std::size_t at = text.find("error:");
    if (at == std::string::npos) return last_line(text.empty() ? result.standard_output : text);
    std::size_t start = text.rfind('\n', at);
    start = start == std::string::npos ? 0 : start + 1;
    return first_line(text.substr(start));
  }

  fs::path source_;
  std::time_t timestamp_;
  fs::path log_;
};

fs::path unpack_source_tree(const Recipe& recipe, const SourceBuildPaths& paths) {
  const std::string& glob = recipe.build->tarball;
  fs::path tarball;
  extract_deb(paths.source_package, paths.work, [&](std::string_view path) -> std::optional<std::string> {
    std::string p(path);
    if (::fnmatch(glob.c_str(), p.c_str(), FNM_PATHNAME) != 0) return std::nullopt;
    if (!tarball.empty())
      throw Error(quote(glob) + " matches more than one file in " + quote(paths.source_package.filename().string()));
    tarball = paths.work / fs::path(p).filename();
    return fs::path(p).filename().string();
  });
  if (tarball.empty())
    throw Error("no file matching " + quote(glob) + " in " + quote(paths.source_package.filename().string()))
        .with_hint("check the recipe's build.tarball");
  fs::path tree = paths.work / "source";
  make_directories(tree);
  // The tarball holds one top directory (linux-source-6.1/); the tree is its content.
  extract_tar_file(tarball, tree, [](std::string_view path) -> std::optional<std::string> {
    auto slash = path.find('/');
    if (slash == std::string_view::npos || slash + 1 == path.size()) return std::nullopt;
    return std::string(path.substr(slash + 1));
  });
  fs::remove(tarball);
  return tree;
}

void configure(const Recipe& recipe, const Make& make, const fs::path& tree) {
  const SourceBuild& build = *recipe.build;
  auto fragment = parse_config_fragment(build.config_fragment_text, build.config_fragment);
  make.run({build.base_config});
  fs::path config = tree / ".config";
  write_file_atomic(config, apply_config_fragment(read_file(config), fragment));
  make.run({"olddefconfig"});
  auto unmet = unmet_config_settings(read_file(config), fragment);
  if (!unmet.empty()) {
    std::string list;
    for (const auto& u : unmet) list += (list.empty() ? "" : ", ") + u;
    throw Error(build.config_fragment + ": Kconfig did not keep " + std::to_string(unmet.size()) +
                (unmet.size() == 1 ? " setting: " : " settings: ") + list)
        .with_hint("a dependency of the option is off, or the option does not exist in this kernel");
  }
}

}  // namespace

std::string toolchain_identity() {
  std::string missing;
  std::map<std::string, std::string> versions;  // each tool's first --version line, run once
  for (const auto& [tool, package] : kBuildTools) {
    try {
      versions[tool] = first_line(run_process({tool, "--version"}).standard_output);
    } catch (const Error&) {
      missing += (missing.empty() ? "" : ", ") + std::string(tool) + " (" + package + ")";
    }
  }
  if (!missing.empty())
    throw Error("building a kernel from source needs " + missing + ", which are not installed")
        .with_hint(std::string("apt-get install ") + kBuildPackages);
  return versions["gcc"] + "; " + versions["ld"];
}

std::string build_kernel_from_source(const Recipe& recipe, const SourceBuildPaths& paths, unsigned jobs,
                                     std::time_t timestamp) {
  const SourceBuild& build = *recipe.build;
  fs::path tree = unpack_source_tree(recipe, paths);
  Make make(tree, timestamp, paths.log);
  configure(recipe, make, tree);
  std::string target = fs::path(build.image).filename().string();
  info(recipe.name + ": compiling linux " + first_line(make.run({"kernelversion"})) + " (make -j" +
       std::to_string(jobs) + " " + target + " modules; tens of minutes on 2 cores, once per set of inputs)");
  make.run({"-j" + std::to_string(jobs), target, "modules"});
  // Only now: the release includes CONFIG_LOCALVERSION, which make reads from the configured tree.
  std::string release = first_line(make.run({"kernelrelease"}));
  // Module indexes are ours to write (module_tree.hpp), so depmod is not run here.
  make.run({"INSTALL_MOD_PATH=" + paths.root.string(), "INSTALL_MOD_STRIP=1", "DEPMOD=true", "modules_install"});
  fs::path modules = paths.root / "lib" / "modules" / release;
  // Links back into the source tree, which is gone once the build ends.
  for (const char* link : {"build", "source"}) fs::remove(modules / link);
  make_directories(paths.root / "boot");
  fs::copy_file(tree / build.image, paths.root / "boot" / ("vmlinuz-" + release));
  fs::copy_file(tree / ".config", paths.root / "boot" / ("config-" + release));
  return release;
}

}  // namespace runcvm::kernels
