// The registry side of the toolchain: layers built deterministically, blob names, the URL policy,
// image references and authentication challenges.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <fstream>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "registry/client.hpp"
#include "registry/layer.hpp"
#include "registry/url_policy.hpp"
#include "support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("layers are deterministic: the same tree gives the same digests", "[bundle][registry]") {
  test::ScratchDirectory scratch;
  auto make_tree = [&](const fs::path& root) {
    fs::create_directories(root / "bin");
    std::ofstream(root / "bin" / "tool") << "#!/bin/sh\necho tool\n";
    fs::permissions(root / "bin" / "tool", fs::perms(0755));
    std::ofstream(root / "data") << std::string(100000, 'x');
    fs::create_symlink("bin/tool", root / "link");
    fs::create_hard_link(root / "data", root / "data-again");
  };
  make_tree(scratch.path() / "a");
  make_tree(scratch.path() / "b");  // made later: other times and inode numbers
  fs::last_write_time(scratch.path() / "b" / "data", fs::file_time_type::clock::now() - std::chrono::hours(100));
  for (auto compression : {registry::Compression::gzip, registry::Compression::zstd}) {
    fs::create_directories(scratch.path() / "wa");
    fs::create_directories(scratch.path() / "wb");
    auto a = registry::build_layer(scratch.path() / "a", "opt/runcvm", compression, 0, scratch.path() / "wa",
                                   registry::KeepTar::yes);
    auto b = registry::build_layer(scratch.path() / "b", "opt/runcvm", compression, 0, scratch.path() / "wb",
                                   registry::KeepTar::yes);
    CHECK(a.digest == b.digest);
    CHECK(a.diff_id == b.diff_id);
    CHECK(a.digest != a.diff_id);
    // Symlinks are entries of their own, not the files they point at.
    std::string tar = read_file(a.tar);
    CHECK(tar.find(std::string("opt/runcvm/link") + '\0') != std::string::npos);
    CHECK(tar.find(std::string("bin/tool") + '\0') != std::string::npos);
    CHECK(a.media_type.ends_with(compression == registry::Compression::gzip ? "+gzip" : "+zstd"));
    auto later = registry::build_layer(scratch.path() / "a", "opt/runcvm", compression, 1700000000,
                                       scratch.path() / "wa", registry::KeepTar::yes);
    CHECK(later.diff_id != a.diff_id);  // the timestamp is part of the content
  }
}

namespace {
// The blob decompressed by libarchive's own filters, as a registry client would read it.
std::string decompress(const fs::path& blob) {
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_raw(reader.get());
  archive_entry* entry = nullptr;
  if (archive_read_open_filename(reader.get(), blob.c_str(), 1 << 16) != ARCHIVE_OK ||
      archive_read_next_header(reader.get(), &entry) != ARCHIVE_OK)
    throw Error("cannot read " + blob.string());
  std::string data, buffer(1 << 16, '\0');
  for (la_ssize_t n; (n = archive_read_data(reader.get(), buffer.data(), buffer.size())) > 0;)
    data.append(buffer, 0, n);
  return data;
}
}  // namespace

TEST_CASE("a layer's blob is its tar compressed, and both digests are of what was written", "[bundle][registry]") {
  test::ScratchDirectory scratch;
  // Several MiB of poorly compressible data: the tar crosses many of the writer's chunks.
  fs::create_directories(scratch.path() / "tree");
  std::uint32_t state = 1;
  for (int f = 0; f < 3; ++f) {
    std::string data(3 << 20, '\0');
    for (auto& c : data) c = static_cast<char>((state = state * 1664525u + 1013904223u) >> 28);
    std::ofstream(scratch.path() / "tree" / std::to_string(f)) << data;
  }
  for (auto compression : {registry::Compression::gzip, registry::Compression::zstd}) {
    fs::path work = scratch.path() / (compression == registry::Compression::gzip ? "gzip" : "zstd");
    fs::create_directories(work);
    auto layer =
        registry::build_layer(scratch.path() / "tree", "opt/runcvm", compression, 0, work, registry::KeepTar::yes);
    std::string tar = read_file(layer.tar);
    CHECK(tar.size() > (9u << 20));
    CHECK(layer.diff_id == "sha256:" + sha256_hex(tar));
    CHECK(layer.digest == "sha256:" + file_digest_hex(layer.blob));
    CHECK(layer.size == fs::file_size(layer.blob));
    CHECK(decompress(layer.blob) == tar);
    // Without the tar file: the same blob, and no tar left in the work directory.
    fs::path bare = work / "bare";
    fs::create_directories(bare);
    auto without =
        registry::build_layer(scratch.path() / "tree", "opt/runcvm", compression, 0, bare, registry::KeepTar::no);
    CHECK(without.digest == layer.digest);
    CHECK(without.diff_id == layer.diff_id);
    CHECK(without.tar.empty());
    CHECK_FALSE(fs::exists(bare / "layer.tar"));
  }
}

TEST_CASE("a layer that cannot be written is an error naming the file", "[bundle][registry]") {
  test::ScratchDirectory scratch;
  fs::create_directories(scratch.path() / "tree");
  std::ofstream(scratch.path() / "tree" / "data") << std::string(3 << 20, 'x');
  // /dev/full fails every write with ENOSPC: once for the compressed blob (the compressing
  // thread fails), once for the tar (the writing thread fails).
  for (std::string full : {"layer.tar.zst", "layer.tar"}) {
    fs::path work = scratch.path() / ("work-" + full);
    fs::create_directories(work);
    fs::create_symlink("/dev/full", work / full);
    CHECK_THROWS_WITH(registry::build_layer(scratch.path() / "tree", "opt/runcvm", registry::Compression::zstd, 0, work,
                                            registry::KeepTar::yes),
                      ContainsSubstring("writing " + (work / full).string()));
  }
}

#include "registry/reference.hpp"

TEST_CASE("a digest becomes a blob's file name only when it is sha256 and hex", "[registry]") {
  std::string hex(64, 'a');
  CHECK(registry::blob_file_name("sha256:" + hex, "m") == hex);
  for (const std::string& bad : std::vector<std::string>{"sha256:../../../../etc/passwd", "sha256:" + hex + "/x",
                                                         "sha256:" + std::string(64, 'A'), "sha512:" + hex,
                                                         "sha256:" + hex.substr(1), std::string("sha256:")}) {
    INFO(bad);
    CHECK_THROWS_WITH(registry::blob_file_name(bad, "manifest"),
                      ContainsSubstring("is not sha256:<64 lower-case hex digits>"));
  }
}

TEST_CASE("plain HTTP only for a registry that is exactly loopback", "[registry]") {
  for (const char* yes :
       {"localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "127.255.0.9:1", "[::1]", "[::1]:5000"}) {
    INFO(yes);
    CHECK(registry::is_loopback_registry(yes));
  }
  for (const char* no :
       {"127.example.com", "127.0.0.1.evil.org", "localhost.evil", "localhost.", "127.0.0", "127.0.0.256", "128.0.0.1",
        "[::1].evil", "[::2]:5000", "127..0.1", "127.0.0.1.", "", "registry.example.org"}) {
    INFO(no);
    CHECK_FALSE(registry::is_loopback_registry(no));
  }
}

TEST_CASE("the registry client's URLs: https, or http to loopback; origins as libcurl parses them", "[registry]") {
  for (const char* allowed : {"https://registry.example.org/v2/x", "http://127.0.0.1:5000/v2/", "http://localhost/x",
                              "http://[::1]:5000/v2/", "HTTPS://CDN.example.org/blob?sig=1"}) {
    INFO(allowed);
    CHECK_NOTHROW(registry::require_allowed_url(allowed));
  }
  for (const char* refused : {"http://registry.example.org/v2/", "http://127.0.0.1.evil.org/", "http://localhost.evil/",
                              "ftp://127.0.0.1/x", "file:///etc/passwd", "http://[::2]/", "not a url"}) {
    INFO(refused);
    CHECK_THROWS(registry::require_allowed_url(refused));
  }
  CHECK_THROWS_WITH(registry::require_allowed_url("http://cdn.example.org/b"),
                    ContainsSubstring("refusing plain HTTP to \"http://cdn.example.org/b\""));
  // Same origin: scheme, host and port, the default port spelt or not, case aside.
  CHECK(registry::origin_of("https://Registry.Example.org/v2/a") ==
        registry::origin_of("https://registry.example.org:443/v2/b"));
  CHECK(registry::origin_of("https://registry.example.org/") !=
        registry::origin_of("https://registry.example.org:5000/"));
  CHECK(registry::origin_of("https://registry.example.org/") != registry::origin_of("http://registry.example.org/"));
  CHECK(registry::origin_of("https://registry.example.org/") !=
        registry::origin_of("https://registry.example.org.cdn.net/"));
  CHECK(registry::origin_of("https://registry.example.org@evil.net/") !=
        registry::origin_of("https://registry.example.org/"));
  CHECK_FALSE(registry::origin_of("registry.example.org/v2"));
  // Redirect locations, absolute or relative to where they were answered.
  CHECK(registry::resolve_location("https://r.example.org/v2/x/blobs/sha256:1", "https://cdn.example.net/b?s=1") ==
        "https://cdn.example.net/b?s=1");
  CHECK(registry::resolve_location("https://r.example.org/v2/x/blobs/sha256:1", "/storage/b") ==
        "https://r.example.org/storage/b");
  CHECK(registry::resolve_location("http://127.0.0.1:5000/v2/x/blobs/y", "z") == "http://127.0.0.1:5000/v2/x/blobs/z");
}

TEST_CASE("image references and registry challenges", "[registry]") {
  auto r = registry::parse_reference("127.0.0.1:5000/runcvm/bundle:1.0");
  CHECK(r.registry == "127.0.0.1:5000");
  CHECK(r.repository == "runcvm/bundle");
  CHECK(r.tag == "1.0");
  CHECK(r.digest.empty());
  std::string digest = "sha256:" + std::string(64, 'a');
  r = registry::parse_reference("localhost/x@" + digest);
  CHECK(r.repository == "x");
  CHECK(r.tag.empty());
  CHECK(r.tag_or_digest() == digest);
  CHECK(registry::parse_reference("registry.example.org/a/b").tag == "latest");
  CHECK_THROWS_WITH(registry::parse_reference("ubuntu:22.04"), ContainsSubstring("no registry"));
  CHECK_THROWS_WITH(registry::parse_reference("127.0.0.1:5000/UPPER:1"), ContainsSubstring("bad repository name"));
  CHECK_THROWS_WITH(registry::parse_reference("127.0.0.1:5000/a@sha256:12"),
                    ContainsSubstring("sha256:<64 hex digits>"));
  CHECK_THROWS_WITH(registry::parse_reference("127.0.0.1:5000/a:b@c"), ContainsSubstring("digest"));

  auto bearer = registry::parse_challenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  CHECK(bearer.scheme == "bearer");
  CHECK(bearer.params["realm"] == "https://auth.example/token");
  CHECK(bearer.params["service"] == "registry.example");
  CHECK(bearer.params["scope"] == "repository:a/b:pull,push");
  auto basic = registry::parse_challenge(R"(Basic realm="runcvm-test")");
  CHECK(basic.scheme == "basic");
  CHECK(basic.params["realm"] == "runcvm-test");
}
