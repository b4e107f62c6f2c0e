#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>

#include "builder/kernels/build_inputs.hpp"
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
    // A packaged kernel reaches its root through initramfs modules; a compiled one has them built in.
    CHECK(recipe.initramfs_modules.empty() == recipe.build.has_value());
    // Signatures protect the content, https what is asked for and what is seen of it on the way.
    for (const auto& source : recipe.sources) CHECK(source.mirror.starts_with("https://"));
    ++count;
  }
  CHECK(count >= 5);
}

TEST_CASE("the build-inputs key changes with every input and only with them", "[recipe][build-inputs]") {
  Recipe recipe = parse_recipe(kValid, "debian-bookworm");
  BuildInputs base{&recipe, {"signed index one", "signed index two"}, "init-digest", "builder-digest", 0, ""};
  const std::string key = build_inputs_key(base);
  CHECK(key.size() == 64);
  CHECK(build_inputs_key(base) == key);

  // The keyring only decides whether an index is trusted; the artifact is made of what it signed.
  Recipe other_keyring = recipe;
  other_keyring.keyring = "/elsewhere.gpg";
  CHECK(build_inputs_key({&other_keyring, base.signed_indexes, "init-digest", "builder-digest", 0, ""}) == key);

  std::vector<std::string> keys;
  auto with_recipe = [&](auto change) {
    Recipe changed = recipe;
    change(changed);
    keys.push_back(build_inputs_key({&changed, base.signed_indexes, "init-digest", "builder-digest", 0, ""}));
  };
  with_recipe([](Recipe& r) { r.dist = "ubuntu"; });
  with_recipe([](Recipe& r) { r.sources[0].mirror = "http://mirror.example/debian"; });
  with_recipe([](Recipe& r) { r.sources[0].suite = "trixie"; });
  with_recipe([](Recipe& r) { r.sources[0].components.push_back("contrib"); });
  with_recipe([](Recipe& r) { r.package = "linux-image-cloud-amd64"; });
  with_recipe([](Recipe& r) { r.follow.push_back("linux-modules-*"); });
  with_recipe([](Recipe& r) { r.kernel_image = "boot/bzImage"; });
  with_recipe([](Recipe& r) { r.initramfs_modules.push_back("ext4"); });
  with_recipe([](Recipe& r) { r.initramfs_compression = Compression::gzip; });
  with_recipe([](Recipe& r) {
    r.build = SourceBuild{"usr/src/*.tar.xz", "defconfig", "f.config", "CONFIG_A=y\n", "b"};
  });
  with_recipe([](Recipe& r) {
    r.build = SourceBuild{"usr/src/*.tar.xz", "defconfig", "f.config", "CONFIG_A=m\n", "b"};
  });
  keys.push_back(build_inputs_key({&recipe, base.signed_indexes, "init-digest", "builder-digest", 0, "gcc 12"}));
  keys.push_back(build_inputs_key({&recipe, {"signed index one"}, "init-digest", "builder-digest", 0, ""}));
  keys.push_back(
      build_inputs_key({&recipe, {"signed index one", "signed index 2"}, "init-digest", "builder-digest", 0, ""}));
  // Moving text between two indexes is another input, not the same concatenation.
  keys.push_back(
      build_inputs_key({&recipe, {"signed index on", "esigned index two"}, "init-digest", "builder-digest", 0, ""}));
  keys.push_back(build_inputs_key({&recipe, base.signed_indexes, "other-init", "builder-digest", 0, ""}));
  keys.push_back(build_inputs_key({&recipe, base.signed_indexes, "init-digest", "other-builder", 0, ""}));
  keys.push_back(build_inputs_key({&recipe, base.signed_indexes, "init-digest", "builder-digest", 1700000000, ""}));
  keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());
}

TEST_CASE("a recipe's build section parses strictly", "[recipe]") {
  std::string text = kValid;
  auto with_build = [&](const std::string& build) {
    std::string t = text;
    t.insert(t.find("\"initramfs_modules\""), "\"build\": " + build + ",\n");
    return t;
  };
  Recipe recipe = parse_recipe(with_build(R"({"tarball": "usr/src/linux-source-*.tar.xz", "base_config": "defconfig",
      "config_fragment": "runcvm-minimal.config", "image": "arch/x86/boot/bzImage"})"),
                               "r");
  REQUIRE(recipe.build);
  CHECK(recipe.build->base_config == "defconfig");
  CHECK(recipe.build->config_fragment == "runcvm-minimal.config");
  CHECK(recipe.build->config_fragment_text.empty());  // the command reads the file

  CHECK_THROWS_WITH(parse_recipe(with_build(R"({"tarball": "/usr/src/x.tar.xz", "base_config": "all; rm",
      "config_fragment": "../x.config", "image": "../../vmlinuz"})"),
                                 "r"),
                    ContainsSubstring("build.tarball`: \"/usr/src/x.tar.xz\" must be a relative path") &&
                        ContainsSubstring("build.base_config`: \"all; rm\" is not a config target") &&
                        ContainsSubstring("build.config_fragment`: \"../x.config\" must be a file name") &&
                        ContainsSubstring("build.image`: \"../../vmlinuz\" must be a relative path"));
  CHECK_THROWS_WITH(parse_recipe(with_build(R"({"tarball": "a", "base_config": "defconfig"})"), "r"),
                    ContainsSubstring("build.config_fragment`: is required"));
  CHECK_THROWS_WITH(parse_recipe(with_build(R"({"tarball": "a", "base_config": "defconfig",
      "config_fragment": "f", "image": "i", "jobs": 4})"),
                                 "r"),
                    ContainsSubstring("build.jobs`: unknown field"));
}

TEST_CASE("the compile key changes with the source, the build section, the toolchain and the date",
          "[recipe][build-inputs]") {
  SourceBuild build{"usr/src/*.tar.xz", "defconfig", "f.config", "CONFIG_A=y\n", "arch/x86/boot/bzImage"};
  std::vector<std::string> keys = {compile_inputs_key(build, "sha-1", "gcc 12", 0)};
  CHECK(compile_inputs_key(build, "sha-1", "gcc 12", 0) == keys.front());
  SourceBuild other = build;
  other.config_fragment_text = "CONFIG_A=m\n";
  keys.push_back(compile_inputs_key(other, "sha-1", "gcc 12", 0));
  other = build;
  other.base_config = "tinyconfig";
  keys.push_back(compile_inputs_key(other, "sha-1", "gcc 12", 0));
  keys.push_back(compile_inputs_key(build, "sha-2", "gcc 12", 0));
  keys.push_back(compile_inputs_key(build, "sha-1", "gcc 13", 0));
  keys.push_back(compile_inputs_key(build, "sha-1", "gcc 12", 1700000000));
  std::sort(keys.begin(), keys.end());
  CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());
}
