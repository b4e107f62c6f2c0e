// Tags in OCI image layouts (registry/layout_index.hpp, layout_writer.hpp): the tag grammar, the
// DIR[:TAG] argument, index.json read and edited as skopeo and umoci write it, the choice of a
// manifest, the blobs a moved tag leaves unused; and layouts written twice with two tags.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "registry/image_writer.hpp"
#include "registry/layer.hpp"
#include "registry/layout_index.hpp"
#include "registry/layout_writer.hpp"
#include "support.hpp"

using namespace runcvm;
using namespace runcvm::registry;
using Catch::Matchers::ContainsSubstring;
using Json = nlohmann::json;

namespace {

std::string digest_of(char c) { return "sha256:" + std::string(64, c); }
Descriptor manifest(char c, std::uint64_t size = 100) {
  return {"application/vnd.oci.image.manifest.v1+json", digest_of(c), size};
}

// What skopeo 1.9 wrote for `skopeo copy oci:… oci:DIR:first` then `oci:DIR:second`, plus a field
// of another tool's that must survive an edit.
std::string skopeo_index() {
  return R"({"schemaVersion":2,"manifests":[)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         digest_of('a') +
         R"(","size":345,"annotations":{"org.opencontainers.image.ref.name":"first"}},)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         digest_of('b') +
         R"(","size":499,"platform":{"os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"second"}}],)"
         R"("x-other-tool":1})";
}

std::vector<std::string> tags_of(const std::string& index) {
  std::vector<std::string> tags;
  for (const auto& entry : parse_index(index, "index.json")) tags.push_back(entry.tag);
  return tags;
}

}  // namespace

TEST_CASE("layout tags: OCI ref.name components, without ':' and '/' when runcvm writes them", "[layout]") {
  for (const char* good : {"1", "latest", "v1.0", "1.0-rc1", "a_b", "a--b", "A9", "x@y", "x+y"}) {
    INFO(good);
    CHECK(is_valid_tag(good));
    CHECK(is_valid_ref_name(good));
  }
  for (const char* bad : {"", "-a", "a-", ".a", "a..b", "a---b", "_x", "a b", "a:b", "a/b", "é", "a\n"}) {
    INFO(bad);
    CHECK_FALSE(is_valid_tag(bad));
  }
  // Read: what skopeo or an older runcvm-build wrote stays addressable.
  for (const char* read : {"runcvm:latest", "docker.io/library/x:1", "a/b"}) {
    INFO(read);
    CHECK(is_valid_ref_name(read));
  }
  for (const char* bad : {"a//b", "/a", "a/", "a::b", ":a", "a b"}) {
    INFO(bad);
    CHECK_FALSE(is_valid_ref_name(bad));
  }
}

TEST_CASE("DIR:TAG: the whole path when it exists, else the longest existing DIR, else the last ':'", "[layout]") {
  std::set<std::string> existing;
  auto exists = [&](const fs::path& p) { return existing.count(p.string()) > 0; };
  auto parsed = [&](std::string_view text) {
    auto a = parse_layout_argument(text, exists);
    return a.dir.string() + "|" + (a.tag ? "tag=" + *a.tag : "none");
  };
  CHECK(parsed("out/layout") == "out/layout|none");
  CHECK(parsed("out/layout:1") == "out/layout|tag=1");
  CHECK(parsed("out/layout:") == "out/layout|tag=");
  CHECK(parsed("a:b:c") == "a:b|tag=c");  // nothing exists: a new layout a:b
  existing = {"a"};
  CHECK(parsed("a:b:c") == "a|tag=b:c");  // an existing layout's tag holding ':'
  existing = {"a", "a:b"};
  CHECK(parsed("a:b:c") == "a:b|tag=c");
  existing = {"/mnt/c:d/layout"};
  CHECK(parsed("/mnt/c:d/layout") == "/mnt/c:d/layout|none");
  CHECK(parsed("/mnt/c:d/layout:1") == "/mnt/c:d/layout|tag=1");
  CHECK_THROWS_WITH(parse_layout_argument(":1", exists), ContainsSubstring("no directory before the ':'"));
  CHECK_THROWS_WITH(parse_layout_argument("", exists), ContainsSubstring("DIR or DIR:TAG"));

  existing.clear();
  // A write refuses a tag runcvm would not write, naming it and the rule.
  CHECK_THROWS_WITH(layout_to_write("out:bad tag", exists),
                    ContainsSubstring("\"out:bad tag\": \"bad tag\" is not a valid tag: expected letters and digits"));
  CHECK_THROWS_WITH(layout_to_write("out:", exists), ContainsSubstring("\"\" is not a valid tag"));
  // A new layout at a path with ':' whose tail is not a tag: refused, not written elsewhere.
  CHECK_THROWS_WITH(layout_to_write("/mnt/c:d/layout", exists), ContainsSubstring("\"d/layout\" is not a valid tag"));
  existing = {"lay"};
  CHECK(*layout_to_read("lay:runcvm:latest", exists).tag == "runcvm:latest");
  CHECK_THROWS_WITH(layout_to_write("lay:runcvm:latest", exists),
                    ContainsSubstring("\"runcvm:latest\" is not a valid tag"));
}

TEST_CASE("a pull's tag: the one named, else the reference's, none for a digest", "[layout]") {
  auto by_tag = parse_reference("127.0.0.1:5000/acc/bb:1");
  CHECK(pull_tag(by_tag, std::nullopt) == "1");
  CHECK(pull_tag(by_tag, std::string("mine")) == "mine");
  CHECK(pull_tag(parse_reference("127.0.0.1:5000/acc/bb"), std::nullopt) == "latest");
  CHECK(pull_tag(parse_reference("127.0.0.1:5000/acc/bb@" + digest_of('c')), std::nullopt).empty());
  CHECK(pull_tag(parse_reference("127.0.0.1:5000/acc/bb:2@" + digest_of('c')), std::nullopt) == "2");
  // A registry tag the OCI grammar refuses ("_x", "a..b") needs a tag named for the layout.
  CHECK_THROWS_WITH(pull_tag(parse_reference("127.0.0.1:5000/acc/bb:_x"), std::nullopt),
                    ContainsSubstring("the reference's tag \"_x\" cannot tag an image in an OCI layout"));
  CHECK(pull_tag(parse_reference("127.0.0.1:5000/acc/bb:_x"), std::string("x")) == "x");
}

TEST_CASE("index.json as skopeo writes it: tags read, a manifest chosen by tag", "[layout]") {
  auto entries = parse_index(skopeo_index(), "lay/index.json");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].tag == "first");
  CHECK(entries[1].manifest.digest == digest_of('b'));
  CHECK(entries[1].manifest.size == 499);
  CHECK(select_manifest(entries, std::string("second"), "\"lay\"").digest == digest_of('b'));
  CHECK_THROWS_WITH(select_manifest(entries, std::string("third"), "\"lay\""),
                    ContainsSubstring("\"lay\": no image tagged \"third\" (the layout has \"first\", \"second\")"));
  CHECK_THROWS_WITH(select_manifest(entries, std::nullopt, "\"lay\""),
                    ContainsSubstring("holds 2 images (\"first\", \"second\"); name one as DIR:TAG"));
  CHECK(select_manifest({entries[1]}, std::nullopt, "\"lay\"").digest == digest_of('b'));
  CHECK_THROWS_WITH(select_manifest({}, std::nullopt, "\"lay\""), ContainsSubstring("holds no image"));
  CHECK(describe_tags({{manifest('c'), ""}, entries[0]}) == "\"first\" and 1 untagged");

  // Digests become file names: anything but sha256:<hex> is refused, as are malformed descriptors.
  CHECK_THROWS_WITH(parse_index(R"({"manifests":[{"digest":"sha256:../../x","size":1}]})", "i"),
                    ContainsSubstring("field `manifests[0].digest`"));
  CHECK_THROWS_WITH(parse_index(R"({"manifests":[{"digest":")" + digest_of('a') + R"(","size":-1}]})", "i"),
                    ContainsSubstring("field `manifests[0].size`"));
  CHECK_THROWS_WITH(parse_index(R"({"manifests":{}})", "i"), ContainsSubstring("field `manifests`"));
  CHECK_THROWS_WITH(parse_index("not json", "i"), ContainsSubstring("i: not a JSON object"));
  CHECK_THROWS_WITH(parse_index(R"({"manifests":[{"digest":")" + digest_of('a') +
                                    R"(","size":1,"annotations":{"org.opencontainers.image.ref.name":1}}]})",
                                "i"),
                    ContainsSubstring("ref.name is not a string"));
}

TEST_CASE("adding a tag: appended, moved in place, an untagged copy absorbed, other fields kept", "[layout]") {
  std::string fresh = index_with("", manifest('a'), "1");
  Json json = Json::parse(fresh);
  CHECK(json["schemaVersion"] == 2);
  CHECK(json["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1");
  CHECK(json["manifests"][0]["size"] == 100);

  std::string added = index_with(skopeo_index(), manifest('c'), "third");
  CHECK(tags_of(added) == std::vector<std::string>{"first", "second", "third"});
  CHECK(Json::parse(added)["x-other-tool"] == 1);
  CHECK(Json::parse(added)["manifests"][1]["platform"]["os"] == "linux");

  // The tag moves to the new manifest, in its old place; the old descriptor goes (umoci tag).
  std::string moved = index_with(skopeo_index(), manifest('c'), "first");
  auto entries = parse_index(moved, "i");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].tag == "first");
  CHECK(entries[0].manifest.digest == digest_of('c'));
  CHECK(entries[1].tag == "second");

  // Untagged (a pull by digest): added once; tagging it later takes over that descriptor.
  std::string untagged = index_with(skopeo_index(), manifest('c'), "");
  CHECK(tags_of(untagged) == std::vector<std::string>{"first", "second", ""});
  CHECK(index_with(untagged, manifest('c'), "") == untagged);
  CHECK(index_with(skopeo_index(), manifest('a'), "") == Json::parse(skopeo_index()).dump());
  CHECK(tags_of(index_with(untagged, manifest('c'), "3")) == std::vector<std::string>{"first", "second", "3"});
  // The same manifest under a second tag: a second descriptor, as skopeo and umoci write it.
  CHECK(tags_of(index_with(skopeo_index(), manifest('a'), "again")) ==
        std::vector<std::string>{"first", "second", "again"});
}

TEST_CASE("a moved tag releases only the blobs no remaining manifest uses", "[layout]") {
  std::map<std::string, std::vector<std::string>> uses = {
      {digest_of('a'), {digest_of('1'), digest_of('2')}},  // first: config 1, layer 2
      {digest_of('b'), {digest_of('3'), digest_of('2')}},  // second: shares layer 2
      {digest_of('c'), {digest_of('4'), digest_of('5')}}};
  auto blobs_of = [&](const std::string& d) -> std::optional<std::vector<std::string>> {
    if (!uses.count(d)) return std::nullopt;
    return uses[d];
  };
  auto before = parse_index(skopeo_index(), "i");
  auto after = parse_index(index_with(skopeo_index(), manifest('c'), "first"), "i");
  CHECK(unreferenced_blobs(before, after, blobs_of) == std::vector<std::string>{digest_of('1'), digest_of('a')});
  // Nothing dropped, nothing released.
  CHECK(unreferenced_blobs(before, parse_index(index_with(skopeo_index(), manifest('c'), "x"), "i"), blobs_of).empty());
  // A remaining manifest that cannot be read (an image index): nothing is released.
  uses.erase(digest_of('b'));
  CHECK(unreferenced_blobs(before, after, blobs_of).empty());
}

TEST_CASE("an OCI layout written twice with two tags holds both, and rewriting a tag frees its blobs", "[layout]") {
  test::ScratchDirectory scratch;
  auto layer_of = [&](const std::string& name, const std::string& content) {
    fs::path tree = scratch.path() / ("tree-" + name);
    fs::create_directories(tree);
    write_file_atomic(tree / "file", content);
    fs::create_directories(scratch.path() / ("work-" + name));
    return build_layer(tree, "data", Compression::gzip, 0, scratch.path() / ("work-" + name), KeepTar::no);
  };
  Layer one = layer_of("one", "one"), two = layer_of("two", "two"), three = layer_of("three", "three");
  fs::path layout = scratch.path() / "lay";
  ImageConfig config;
  auto first = write_oci_layout(layout, "1", config, one);
  auto second = write_oci_layout(layout / "", "2", config, two);  // "lay/" is the same layout
  auto index = parse_index(read_file(layout / "index.json"), "index.json");
  REQUIRE(index.size() == 2);
  CHECK(select_manifest(index, std::string("1"), "lay").digest == first.manifest_digest);
  CHECK(select_manifest(index, std::string("2"), "lay").digest == second.manifest_digest);
  fs::path blobs = layout / "blobs" / "sha256";
  CHECK(fs::exists(blobs / one.digest.substr(7)));
  for (const auto& entry : fs::directory_iterator(scratch.path()))  // no staging directory is left
    CHECK_FALSE(entry.path().filename().string().starts_with(".lay"));

  // Tag 1 moves to a new image: the old manifest and its layer go, tag 2's blobs stay.
  auto third = write_oci_layout(layout, "1", config, three);
  index = parse_index(read_file(layout / "index.json"), "index.json");
  REQUIRE(index.size() == 2);
  CHECK(index[0].tag == "1");
  CHECK(index[0].manifest.digest == third.manifest_digest);
  CHECK_FALSE(fs::exists(blobs / first.manifest_digest.substr(7)));
  CHECK_FALSE(fs::exists(blobs / one.digest.substr(7)));
  CHECK(fs::exists(blobs / two.digest.substr(7)));
  CHECK_FALSE(fs::exists(blobs / first.config_digest.substr(7)));
  CHECK(fs::exists(blobs / second.config_digest.substr(7)));
  for (const auto& entry : fs::directory_iterator(blobs)) {
    std::string name = entry.path().filename();
    CHECK(sha256_hex(read_file(entry.path())) == name);
  }
}

TEST_CASE("a layout writer leaves an existing layout as it was when it fails", "[layout]") {
  test::ScratchDirectory scratch;
  fs::path layout = scratch.path() / "lay";
  std::string manifest_text =
      R"({"schemaVersion":2,"config":{"digest":")" + digest_of('1') + R"(","size":1},"layers":[]})";
  Descriptor m{"application/vnd.oci.image.manifest.v1+json", "sha256:" + sha256_hex(manifest_text),
               manifest_text.size()};
  {
    LayoutWriter writer(layout, "pull");
    write_file_atomic(writer.staged_blob(m.digest), manifest_text);
    writer.commit(m, "1");
  }
  std::string before = read_file(layout / "index.json");
  {
    LayoutWriter writer(layout, "pull");
    CHECK(writer.has_blob(m));
    write_file_atomic(writer.staged_blob(digest_of('9')), "staged");
    // The manifest named is neither staged nor in the layout: refused, the staged blob not added.
    CHECK_THROWS_WITH(writer.commit(manifest('8'), "2"),
                      ContainsSubstring("the manifest " + digest_of('8') + " is missing"));
  }
  CHECK(read_file(layout / "index.json") == before);
  CHECK_FALSE(fs::exists(layout / "blobs" / "sha256" / std::string(64, '9')));
  CHECK(std::distance(fs::directory_iterator(scratch.path()), fs::directory_iterator()) == 1);

  // A layout whose index.json is damaged is refused before any work, naming the file.
  write_file_atomic(layout / "index.json", "{");
  CHECK_THROWS_WITH(LayoutWriter(layout, "pull"), ContainsSubstring("index.json: not a JSON object"));
  // A directory of the user's is never written.
  fs::create_directories(scratch.path() / "mine");
  write_file_atomic(scratch.path() / "mine" / "notes", "keep");
  CHECK_THROWS_WITH(LayoutWriter(scratch.path() / "mine", "pull"),
                    ContainsSubstring("exists and is not an earlier output (it has no oci-layout)"));
}
