#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "builder/kernels/recipe.hpp"
#include "common/error.hpp"
#include "common/file.hpp"

using namespace runcvm::kernels;
using Catch::Matchers::ContainsSubstring;

namespace {
const char* kValid = R"({
  "dist": "debian", "format": "deb", "architecture": "amd64",
  "sources": [{"mirror": "http://deb.debian.org/debian/", "suite": "bookworm", "components": ["main"]}],
  "keyring": "/usr/share/keyrings/debian-archive-keyring.gpg",
  "package": "linux-image-amd64", "follow": ["linux-image-*"], "kernel_image": "boot/vmlinuz-*",
  "initramfs_modules": ["virtiofs"]
})";
}

TEST_CASE("a valid recipe parses into its fields", "[recipe]") {
  Recipe recipe = parse_recipe(kValid, "debian-bookworm");
  CHECK(recipe.name == "debian-bookworm");
  CHECK(recipe.format == RepositoryFormat::deb);
  REQUIRE(recipe.sources.size() == 1);
  CHECK(recipe.sources[0].mirror == "http://deb.debian.org/debian");  // trailing slash dropped
  CHECK(recipe.initramfs_compression == Compression::zstd);
  CHECK(recipe.follow == std::vector<std::string>{"linux-image-*"});
}

TEST_CASE("recipe errors name the field and the bad value, all at once", "[recipe]") {
  std::string text = kValid;
  text.replace(text.find("\"dist\""), 6, "\"distro\"");
  text.replace(text.find("\"deb\""), 5, "\"rpm\"");
  try {
    parse_recipe(text, "broken");
    FAIL("expected an error");
  } catch (const runcvm::Error& e) {
    std::string message = e.what();
    CHECK_THAT(message, ContainsSubstring("recipe \"broken\""));
    CHECK_THAT(message, ContainsSubstring("field `distro`: unknown field"));
    CHECK_THAT(message, ContainsSubstring("field `dist`: is required"));
    CHECK_THAT(message, ContainsSubstring("\"rpm\" is not a known repository format"));
  }
}

TEST_CASE("recipe values are checked", "[recipe]") {
  auto with = [](std::string from, std::string to) {
    std::string text = kValid;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  CHECK_THROWS_WITH(parse_recipe(with("http://deb.debian.org/debian/", "ftp://x"), "r"),
                    ContainsSubstring("sources[0].mirror`: \"ftp://x\" is not an http"));
  CHECK_THROWS_WITH(parse_recipe(with("\"debian\"", "\"a/b\""), "r"), ContainsSubstring("must be a plain name"));
  CHECK_THROWS_WITH(parse_recipe(with("[\"virtiofs\"]", "\"virtiofs\""), "r"),
                    ContainsSubstring("field `initramfs_modules`: expected a list of strings"));
  CHECK_THROWS_WITH(parse_recipe(with("\"components\"", "\"parts\""), "r"),
                    ContainsSubstring("sources[0].parts`: unknown field"));
  CHECK_THROWS_WITH(parse_recipe("{", "r"), ContainsSubstring("not valid JSON"));
  // Found by fuzz-recipe: nlohmann reports an overflowing number as out_of_range, not parse_error.
  CHECK_THROWS_WITH(parse_recipe("1555555555555555555555e27777777", "r"), ContainsSubstring("not valid JSON"));
  CHECK_THROWS_WITH(parse_recipe("[]", "r"), ContainsSubstring("JSON object"));
}

TEST_CASE("every shipped recipe is valid and fetches over https", "[recipe]") {
  int count = 0;
  for (const auto& entry : runcvm::fs::directory_iterator(RUNCVM_SOURCE_RECIPES_DIR)) {
    if (entry.path().extension() != ".json") continue;
    INFO(entry.path());
    Recipe recipe = parse_recipe(runcvm::read_file(entry.path()), entry.path().stem().string());
    CHECK_FALSE(recipe.initramfs_modules.empty());
    // Signatures protect the content, https what is asked for and what is seen of it on the way.
    for (const auto& source : recipe.sources) CHECK(source.mirror.rfind("https://", 0) == 0);
    ++count;
  }
  CHECK(count >= 5);
}
