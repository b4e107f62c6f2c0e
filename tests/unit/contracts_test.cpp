// Each contract between runcvm's parts has one home in handoff/ (or channel/): a path of it
// spelled as a literal anywhere else in the C++ tree is a second copy that a change would miss.
#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace runcvm {
namespace {

namespace fs = std::filesystem;

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
    std::ifstream in(it->path());
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().find(needle) != std::string::npos) found.push_back(relative);
  }
  return found;
}

TEST_CASE("the state directory's paths are spelled in handoff/state_directory.hpp alone", "[contracts]") {
  // A string literal that starts with the directory (comments may name it).
  CHECK(places_spelling("\"/.runcvm").empty());
}

}  // namespace
}  // namespace runcvm
