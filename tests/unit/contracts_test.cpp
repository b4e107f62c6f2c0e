// Each contract between runcvm's parts has one home in handoff/ (or channel/): a path of it
// spelled as a literal anywhere else in the C++ tree is a second copy that a change would miss.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "handoff/bundle_layout.hpp"
#include "handoff/state_directory.hpp"

namespace runcvm {
namespace {

namespace fs = std::filesystem;

std::string read_source(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Files of the C++ tree (not the build, not the tests) whose text holds `needle` outside handoff/.
std::vector<std::string> places_spelling(const std::string& needle) {
  std::vector<std::string> found;
  fs::path root = RUNCVM_SOURCE_DIR;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string relative = fs::relative(it->path(), root).string();
    if (it->is_directory()) {
      // A build tree is known by its CMakeCache.txt, whatever its name (a prefix "build" would
      // leave out builder/).
      bool build_tree = fs::exists(it->path() / "CMakeCache.txt");
      if (build_tree || relative == "tests" || relative == "handoff" || relative.starts_with("."))
        it.disable_recursion_pending();
      continue;
    }
    std::string extension = it->path().extension().string();
    if (!it->is_regular_file() || (extension != ".cpp" && extension != ".hpp")) continue;
    if (read_source(it->path()).find(needle) != std::string::npos) found.push_back(relative);
  }
  return found;
}

TEST_CASE("the state directory's paths are spelled in handoff/state_directory.hpp alone", "[contracts]") {
  // A string literal that starts with the directory (comments may name it).
  CHECK(places_spelling("\"/.runcvm").empty());
}

// The starts of string literals that spell a path of the bundle: its mount point and parent, the
// bundle image's layer prefix, and each of its directories and files (comments may name them).
const std::vector<std::string> kBundleLayoutLiterals = {
    "\"/opt/runcvm", "\"opt/runcvm", "\"/opt\"", "\"bin\"",     "\"bin/",      "\"libexec", "\"lib\"",
    "\"lib/",        "\"share\"",    "\"share/", "\"VERSION\"", "\"kernels\"", "\"kernels/"};

// The same words that mean something other than the bundle.
struct Allowed {
  std::string literal;
  std::string file;
  std::string reason;
};
const std::vector<Allowed> kAllowedBundleLayoutLiterals = {
    {"\"lib\"", "builder/kernels/source_build.cpp", "a kernel build's own lib/modules tree"},
    {"\"lib\"", "builder/kernels/unpack.cpp", "a kernel package's lib/modules tree"},
    {"\"lib/", "builder/kernels/unpack.cpp", "a kernel package's lib/modules tree"},
    {"\"lib/", "builder/kernels/kernels_command.cpp", "a kernel package's lib/modules tree"},
    {"\"share\"", "builder/cli.cpp", "the recipes beside an installed runcvm-build, which the bundle does not carry"},
    {"\"kernels\"", "builder/cli.cpp", "the name of the `runcvm-build kernels` subcommand"},
};

TEST_CASE("the bundle layout's paths are spelled in handoff/bundle_layout.hpp alone", "[contracts]") {
  for (const auto& literal : kBundleLayoutLiterals) {
    std::vector<std::string> expected;
    std::string allowed_because;
    for (const auto& allowed : kAllowedBundleLayoutLiterals) {
      if (allowed.literal != literal) continue;
      expected.push_back(allowed.file);
      allowed_because += "\n  " + allowed.file + ": " + allowed.reason;
    }
    std::sort(expected.begin(), expected.end());
    std::vector<std::string> found = places_spelling(literal);
    std::sort(found.begin(), found.end());
    INFO("literal " << literal << allowed_because);
    // An allowed place that no longer spells it is dropped from the list too.
    CHECK(found == expected);
  }
}

TEST_CASE("the bundle layout's names agree with each other and with the state directory", "[contracts]") {
  // runc executes the exec client through the state directory's bind of the bundle's programs.
  CHECK(std::string(handoff::kExecClient) ==
        std::string(handoff::kStateBundleBin) + "/" + fs::path(handoff::kBundleExecClient).filename().string());
  CHECK(fs::path(handoff::kBundleMountPoint).parent_path() == handoff::kBundleMountParent);
  for (const char* program : handoff::kBundlePrograms)
    CHECK(fs::path(program).parent_path() == handoff::kBundleProgramDirectory);
  CHECK(fs::path(handoff::kBundleShell).parent_path() == handoff::kBundleProgramDirectory);
}

TEST_CASE("the Dockerfile spells the bundle layout as handoff/bundle_layout.hpp has it", "[contracts]") {
  std::string dockerfile = read_source(fs::path(RUNCVM_SOURCE_DIR) / "Dockerfile");
  handoff::BundleLayout in_image;
  std::string mount_point = handoff::kBundleMountPoint;
  for (const std::string& line :
       {"--out " + mount_point + " ", "COPY --from=build " + mount_point + " " + mount_point + "\n",
        "ENV PATH=" + in_image.programs() + "\n",
        "ENTRYPOINT [\"" + in_image.path(handoff::kBundleInstaller) + "\"]\n"}) {
    INFO(line);
    CHECK(dockerfile.find(line) != std::string::npos);
  }
}

}  // namespace
}  // namespace runcvm
