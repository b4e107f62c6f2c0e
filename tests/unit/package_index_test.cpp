#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "builder/kernels/package_index.hpp"
#include "builder/kernels/unpack.hpp"
#include "common/error.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm::kernels;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("versions compare as dpkg compares them", "[index]") {
  CHECK(compare_versions("6.1.192-2", "6.1.192-2") == 0);
  CHECK(compare_versions("6.1.192-2", "6.1.99-1") > 0);   // numeric, not lexical
  CHECK(compare_versions("6.1.0~rc1-1", "6.1.0-1") < 0);  // '~' sorts before the end
  CHECK(compare_versions("1:5.0", "6.1") > 0);            // epoch wins
  CHECK(compare_versions("6.1.0-1", "6.1.0-1+b1") < 0);
  CHECK(compare_versions("6.1a", "6.1+") < 0);            // letters before other symbols
  CHECK(compare_versions("6.6.31-r0", "6.6.31-r1") < 0);  // Alpine revisions too
  CHECK(compare_versions("6.1.0-56-amd64", "6.1.0-9-amd64") > 0);
}

TEST_CASE("deb822 paragraphs keep continuation lines", "[index]") {
  auto paragraphs = parse_deb822("Package: a\nDescription: one\n two\n .\n\nPackage: b\n");
  REQUIRE(paragraphs.size() == 2);
  CHECK(paragraphs[0].at("Description") == "one\ntwo\n.");
  CHECK(paragraphs[1].at("Package") == "b");
  CHECK_THROWS_WITH(parse_deb822(" orphan\n"), ContainsSubstring("continuation line without a field"));
  CHECK_THROWS_WITH(parse_deb822("no colon here\n"), ContainsSubstring("line without a field name"));
}

TEST_CASE("Release files give the SHA256 of each index", "[index]") {
  std::string sha(64, 'a');
  std::string text =
      "Origin: Debian\nSuite: stable\nCodename: bookworm\n"
      "Date: Sat, 10 Jun 2023 08:55:34 UTC\nValid-Until: Sat, 17 Jun 2023 08:55:34 UTC\n"
      "Acquire-By-Hash: yes\nSHA256:\n " +
      sha + "   1234 main/binary-amd64/Packages.xz\n " + std::string(64, 'b') + " 99 main/binary-amd64/Packages\n";
  ReleaseIndex release = parse_release(text);
  CHECK(release.codename == "bookworm");
  CHECK(release.acquire_by_hash);
  REQUIRE(release.valid_until);
  CHECK(*release.valid_until == 1686992134);
  REQUIRE(release.date);
  CHECK(*release.date == 1686387334);
  CHECK(format_release_date(*release.date) == "Sat, 10 Jun 2023 08:55:34 UTC");
  REQUIRE(release.sha256_files.count("main/binary-amd64/Packages.xz") == 1);
  CHECK(release.sha256_files.at("main/binary-amd64/Packages.xz").sha256 == sha);
  CHECK(release.sha256_files.at("main/binary-amd64/Packages.xz").size == 1234);

  CHECK_THROWS_WITH(parse_release("Suite: x\nSHA256:\n abc 12 main/Packages\n"), ContainsSubstring("bad digest"));
  CHECK_THROWS_WITH(parse_release("Suite: x\nSHA256:\n " + sha + " twelve main/Packages\n"),
                    ContainsSubstring("twelve"));
  CHECK_THROWS_WITH(parse_release("Suite: x\nValid-Until: soon\n"), ContainsSubstring("Valid-Until"));
  CHECK_THROWS_WITH(parse_release("Suite: x\nDate: yesterday\n"), ContainsSubstring("`Date`"));
  CHECK_THROWS_WITH(parse_release(""), ContainsSubstring("empty"));
}

TEST_CASE("release dates parse in UTC", "[index]") {
  CHECK(parse_release_date("Thu, 01 Jan 1970 00:00:00 UTC") == std::time_t{0});
  CHECK(parse_release_date("Sat, 10 Jun 2023 08:55:34 UTC") == std::time_t{1686387334});
  CHECK_FALSE(parse_release_date("yesterday"));
}

TEST_CASE("Packages entries keep the first alternative of each dependency", "[index]") {
  std::string sha(64, 'c');
  std::string text =
      "Package: linux-image-amd64\nVersion: 6.1.192-2\nFilename: pool/l/li.deb\nSize: 10\n"
      "SHA256: " +
      sha + "\nDepends: linux-image-6.1.0-56-amd64 (= 6.1.192-2) | linux-x, kmod\n\n";
  auto entries = parse_packages(text, "http://m/debian");
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].depends == std::vector<std::string>{"linux-image-6.1.0-56-amd64", "kmod"});
  CHECK(entries[0].checksum == sha);
  CHECK(entries[0].size == 10);
  CHECK(entries[0].base_url == "http://m/debian");
  CHECK_THROWS_WITH(parse_packages("Package: x\nVersion: 1\n", "u"), ContainsSubstring("missing field"));
}

TEST_CASE("the newest version of a package wins across sources", "[index]") {
  PackageMap packages;
  merge_newest(packages, {{"k", "6.1.90-1", "old.deb", "", 1, {}, "a"}});
  merge_newest(packages, {{"k", "6.1.192-2", "new.deb", "", 1, {}, "b"}});
  merge_newest(packages, {{"k", "6.1.100-1", "mid.deb", "", 1, {}, "c"}});
  CHECK(packages.at("k").filename == "new.deb");
}

TEST_CASE("resolving follows only the globbed dependencies", "[index]") {
  PackageMap packages;
  merge_newest(packages, {{"linux-image-amd64", "1", "", "", 1, {"linux-image-6.1.0-56-amd64", "initramfs-tools"}, ""},
                          {"linux-image-6.1.0-56-amd64", "1", "", "", 1, {"kmod", "linux-base"}, ""}});
  auto resolved = resolve_packages(packages, "linux-image-amd64", {"linux-image-*"}, "test");
  REQUIRE(resolved.size() == 2);
  CHECK(resolved[1].name == "linux-image-6.1.0-56-amd64");

  CHECK_THROWS_WITH(resolve_packages(packages, "linux-image-arm64", {}, "http://m bookworm"),
                    ContainsSubstring("package \"linux-image-arm64\" not found in http://m bookworm"));
  packages.erase("linux-image-6.1.0-56-amd64");
  CHECK_THROWS_WITH(resolve_packages(packages, "linux-image-amd64", {"linux-image-*"}, "x"),
                    ContainsSubstring("needed by \"linux-image-amd64\""));
}

TEST_CASE("APKINDEX entries", "[index]") {
  std::string text =
      "C:Q1abcdefghijklmnopqrstuvwxyz0=\nP:linux-virt\nV:6.6.31-r0\nS:123\n"
      "D:initramfs-generator so:libc.musl-x86_64.so.1 !conflict kmod>=30\n\n"
      "C:Q1zzzzzzzzzzzzzzzzzzzzzzzzzzz=\nP:other\nV:1-r0\nS:5\n";
  auto entries = parse_apkindex(text, "http://m/alpine/v3.20/main/x86_64");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].filename == "linux-virt-6.6.31-r0.apk");
  CHECK(entries[0].size == 123);
  CHECK(entries[0].depends == std::vector<std::string>{"initramfs-generator", "kmod"});
  CHECK_THROWS_WITH(parse_apkindex("P:x\nV:1\n", "u"), ContainsSubstring("checksum"));
  CHECK_THROWS_WITH(parse_apkindex("garbage\n", "u"), ContainsSubstring("malformed line"));
}

TEST_CASE("an index that decompresses past the limit fails naming the file and the limit", "[index][limits]") {
  std::string packages_gz = runcvm::test::gzip(std::string(3 << 20, 'P'));  // 3 MiB from a few KiB
  const std::string what = "https://mirror/dists/bookworm/main/binary-amd64/Packages.gz";
  try {
    decompress(packages_gz, what, 2 << 20);
    FAIL("expected the limit to hold");
  } catch (const runcvm::Error& e) {
    std::string line = runcvm::format_error_line("runcvm-build", e);
    CHECK_THAT(line, ContainsSubstring(what + ": decompresses to more than 2 MiB (runcvm-build's limit)"));
  }
  CHECK(decompress(packages_gz, what, 3 << 20).size() == 3u << 20);
  CHECK(kIndexDecompressedLimit == 512u << 20);
}
