// A bundle kernel's manifest (handoff/kernel_manifest.hpp): written and read from one type, and
// anything but the format refused in one line naming the field.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "handoff/kernel_manifest.hpp"

namespace runcvm {
namespace {

using Catch::Matchers::ContainsSubstring;

handoff::KernelManifest sample() {
  handoff::KernelManifest m;
  m.dist = "debian";
  m.version = "6.1.0-41-cloud-amd64";
  m.recipe = "debian-bookworm-cloud";
  m.inputs = "3f2a";
  m.initramfs_modules = {"virtio_ring", "fuse"};
  m.packages = {{"linux-image-6.1.0-41-cloud-amd64", "6.1.158-1", "ab12"}};
  return m;
}

TEST_CASE("a kernel manifest reads back what was written", "[handoff][kernels]") {
  handoff::KernelManifest m = sample();
  m.toolchain = "gcc 12.2.0";
  std::string text = handoff::to_json_text(m);
  CHECK(text.ends_with("}\n"));
  CHECK(text.find("\n  \"dist\": \"debian\"") != std::string::npos);  // pretty: tests and people grep it
  handoff::KernelManifest back = handoff::parse_kernel_manifest(text);
  CHECK(back.dist == "debian");
  CHECK(back.version == "6.1.0-41-cloud-amd64");
  CHECK(back.recipe == "debian-bookworm-cloud");
  CHECK(back.inputs == "3f2a");
  CHECK(back.initramfs_modules == std::vector<std::string>{"virtio_ring", "fuse"});
  REQUIRE(back.packages.size() == 1);
  CHECK(back.packages[0].checksum == "ab12");
  CHECK_FALSE(back.root_without_initramfs);
  CHECK(back.toolchain == "gcc 12.2.0");
  CHECK_FALSE(handoff::parse_kernel_manifest(handoff::to_json_text(sample())).toolchain);
}

TEST_CASE("a kernel manifest of another format is refused, naming the field", "[handoff][kernels]") {
  std::string good = handoff::to_json_text(sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  CHECK_THROWS_WITH(handoff::parse_kernel_manifest(with("\"manifest_version\": 1", "\"manifest_version\": 2")),
                    ContainsSubstring("manifest_version 2 is not supported (this program reads 1)"));
  CHECK_THROWS_WITH(handoff::parse_kernel_manifest(with("\"manifest_version\": 1,", "")),
                    ContainsSubstring("`manifest_version`: is required"));
  CHECK_THROWS_WITH(
      handoff::parse_kernel_manifest(with("\"root_without_initramfs\": false", "\"root_without_initramfs\": 1")),
      ContainsSubstring("`root_without_initramfs`: has the wrong type"));
  CHECK_THROWS_WITH(
      handoff::parse_kernel_manifest(with("\"checksum\": \"ab12\"", "\"checksum\": \"ab12\", \"url\": \"x\"")),
      ContainsSubstring("`packages[0].url`: unknown field"));
}

}  // namespace
}  // namespace runcvm
