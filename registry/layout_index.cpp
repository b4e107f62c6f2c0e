#include "registry/layout_index.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "registry/client.hpp"

namespace runcvm::registry {
namespace {

using Json = nlohmann::json;

bool is_alphanumeric(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// image-spec annotations.md: component ::= alphanum (separator alphanum)*,
// separator ::= [-._:@+] | "--".
bool valid_component(std::string_view text, std::string_view separators) {
  if (text.empty() || !is_alphanumeric(text.front()) || !is_alphanumeric(text.back())) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_alphanumeric(text[i])) continue;
    if (separators.find(text[i]) == std::string_view::npos) return false;
    if (text[i] == '-' && text[i + 1] == '-') ++i;  // "--" is one separator; the back is alphanumeric
    if (!is_alphanumeric(text[i + 1])) return false;
  }
  return true;
}

std::string index_where(std::string_view where, std::size_t i, std::string_view field) {
  return std::string(where) + ": field `manifests[" + std::to_string(i) + "]" + std::string(field) + "`";
}

IndexEntry parse_entry(const Json& json, std::size_t i, std::string_view where) {
  if (!json.is_object()) throw Error(index_where(where, i, "") + ": expected a descriptor object");
  IndexEntry entry;
  auto digest = json.find("digest");
  if (digest == json.end() || !digest->is_string()) throw Error(index_where(where, i, ".digest") + ": missing");
  entry.manifest.digest = digest->get<std::string>();
  blob_file_name(entry.manifest.digest, index_where(where, i, ".digest"));  // throws unless sha256:<hex>
  auto size = json.find("size");
  if (size == json.end() || !size->is_number_unsigned())
    throw Error(index_where(where, i, ".size") + ": expected a size in bytes");
  entry.manifest.size = size->get<std::uint64_t>();
  if (auto media_type = json.find("mediaType"); media_type != json.end() && media_type->is_string())
    entry.manifest.media_type = media_type->get<std::string>();
  if (auto annotations = json.find("annotations"); annotations != json.end()) {
    if (!annotations->is_object()) throw Error(index_where(where, i, ".annotations") + ": expected an object");
    if (auto name = annotations->find(kRefNameAnnotation); name != annotations->end()) {
      if (!name->is_string()) throw Error(index_where(where, i, ".annotations") + ": the ref.name is not a string");
      entry.tag = name->get<std::string>();
    }
  }
  return entry;
}

Json descriptor_json(const Descriptor& manifest, std::string_view tag) {
  Json descriptor = {{"mediaType", manifest.media_type}, {"digest", manifest.digest}, {"size", manifest.size}};
  if (!tag.empty()) descriptor["annotations"] = {{kRefNameAnnotation, tag}};
  return descriptor;
}

std::string digest_of(const Json& descriptor) {
  auto digest = descriptor.is_object() ? descriptor.find("digest") : descriptor.end();
  return digest != descriptor.end() && digest->is_string() ? digest->get<std::string>() : "";
}

std::string tag_of(const Json& descriptor) {
  if (!descriptor.is_object()) return "";
  auto annotations = descriptor.find("annotations");
  if (annotations == descriptor.end() || !annotations->is_object()) return "";
  auto name = annotations->find(kRefNameAnnotation);
  return name != annotations->end() && name->is_string() ? name->get<std::string>() : "";
}

}  // namespace

bool is_valid_tag(std::string_view tag) { return valid_component(tag, "-._@+"); }

bool is_valid_ref_name(std::string_view name) {
  for (std::size_t start = 0;;) {
    std::size_t slash = name.find('/', start);
    if (!valid_component(name.substr(start, slash - start), "-._:@+")) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

LayoutArgument parse_layout_argument(std::string_view text,
                                     const std::function<bool(const std::filesystem::path&)>& exists) {
  auto split = [&](std::size_t colon) -> LayoutArgument {
    if (colon == 0) throw Error(quote(text) + ": no directory before the ':'").with_hint("expected DIR or DIR:TAG");
    return {std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  };
  if (text.empty()) throw Error("an empty layout path").with_hint("expected DIR or DIR:TAG");
  if (exists(std::string(text))) return {std::string(text), std::nullopt};
  std::size_t last = text.rfind(':');
  for (std::size_t colon = last; colon != std::string_view::npos && colon > 0; colon = text.rfind(':', colon - 1))
    if (exists(std::string(text.substr(0, colon)))) return split(colon);
  if (last == std::string_view::npos) return {std::string(text), std::nullopt};
  return split(last);
}

namespace {

LayoutArgument checked(std::string_view text, LayoutArgument argument, bool (*valid)(std::string_view),
                       std::string_view rule) {
  if (argument.tag && !valid(*argument.tag))
    throw Error(quote(text) + ": " + quote(*argument.tag) + " is not a valid tag: expected " + std::string(rule))
        .with_hint("a layout is DIR or DIR:TAG");
  return argument;
}

}  // namespace

LayoutArgument layout_to_write(std::string_view text, const std::function<bool(const std::filesystem::path&)>& exists) {
  return checked(text, parse_layout_argument(text, exists), is_valid_tag, kTagRule);
}

LayoutArgument layout_to_read(std::string_view text, const std::function<bool(const std::filesystem::path&)>& exists) {
  return checked(text, parse_layout_argument(text, exists), is_valid_ref_name,
                 std::string(kTagRule) + ", or such names joined by ':' or '/'");
}

std::string pull_tag(const Reference& reference, const std::optional<std::string>& named) {
  if (named) return *named;
  if (reference.tag.empty()) return "";
  if (!is_valid_tag(reference.tag))
    throw Error("the reference's tag " + quote(reference.tag) + " cannot tag an image in an OCI layout (expected " +
                std::string(kTagRule) + ")")
        .with_hint("name the layout's tag: DIR:TAG");
  return reference.tag;
}

std::vector<IndexEntry> parse_index(std::string_view text, std::string_view where) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) throw Error(std::string(where) + ": not a JSON object");
  auto manifests = json.find("manifests");
  if (manifests == json.end() || !manifests->is_array())
    throw Error(std::string(where) + ": field `manifests`: expected a list");
  std::vector<IndexEntry> entries;
  for (std::size_t i = 0; i < manifests->size(); ++i) entries.push_back(parse_entry((*manifests)[i], i, where));
  return entries;
}

std::string describe_tags(const std::vector<IndexEntry>& entries) {
  std::string tags;
  std::size_t untagged = 0;
  for (const auto& entry : entries)
    if (entry.tag.empty())
      ++untagged;
    else
      tags += (tags.empty() ? "" : ", ") + quote(entry.tag);
  if (tags.empty()) tags = "no tags";
  if (untagged > 0) tags += " and " + std::to_string(untagged) + " untagged";
  return tags;
}

Descriptor select_manifest(const std::vector<IndexEntry>& entries, const std::optional<std::string>& tag,
                           std::string_view where) {
  if (entries.empty()) throw Error(std::string(where) + ": the layout holds no image");
  if (!tag) {
    if (entries.size() == 1) return entries.front().manifest;
    throw Error(std::string(where) + ": the layout holds " + std::to_string(entries.size()) + " images (" +
                describe_tags(entries) + "); name one as DIR:TAG");
  }
  auto found = std::find_if(entries.begin(), entries.end(), [&](const IndexEntry& e) { return e.tag == *tag; });
  if (found == entries.end())
    throw Error(std::string(where) + ": no image tagged " + quote(*tag) + " (the layout has " + describe_tags(entries) +
                ")");
  return found->manifest;
}

std::string index_with(std::string_view index_text, const Descriptor& manifest, std::string_view tag) {
  Json index = index_text.empty() ? Json{{"schemaVersion", 2},
                                         {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                         {"manifests", Json::array()}}
                                  : Json::parse(index_text);
  Json& manifests = index["manifests"];
  auto same_tag = [&](const Json& d) { return !tag.empty() && tag_of(d) == tag; };
  auto same_untagged = [&](const Json& d) { return tag_of(d).empty() && digest_of(d) == manifest.digest; };
  auto place = std::find_if(manifests.begin(), manifests.end(), same_tag);
  if (place == manifests.end()) place = std::find_if(manifests.begin(), manifests.end(), same_untagged);
  if (tag.empty() &&
      std::any_of(manifests.begin(), manifests.end(), [&](const Json& d) { return digest_of(d) == manifest.digest; }))
    return index.dump();  // the manifest is there already, tagged or not
  if (place == manifests.end()) {
    manifests.push_back(descriptor_json(manifest, tag));
  } else {
    *place = descriptor_json(manifest, tag);
    // The tag names one manifest; an untagged copy of this one is absorbed.
    Json kept = Json::array();
    for (auto it = manifests.begin(); it != manifests.end(); ++it)
      if (it == place || !(same_tag(*it) || same_untagged(*it))) kept.push_back(*it);
    manifests = std::move(kept);
  }
  return index.dump();
}

std::vector<std::string> unreferenced_blobs(
    const std::vector<IndexEntry>& before, const std::vector<IndexEntry>& after,
    const std::function<std::optional<std::vector<std::string>>(const std::string& digest)>& blobs_of) {
  auto in = [](const std::vector<IndexEntry>& entries, const std::string& digest) {
    return std::any_of(entries.begin(), entries.end(),
                       [&](const IndexEntry& e) { return e.manifest.digest == digest; });
  };
  std::vector<std::string> dropped;
  for (const auto& entry : before)
    if (!in(after, entry.manifest.digest) &&
        std::find(dropped.begin(), dropped.end(), entry.manifest.digest) == dropped.end())
      dropped.push_back(entry.manifest.digest);
  if (dropped.empty()) return {};
  std::vector<std::string> used;
  for (const auto& entry : after) {
    auto blobs = blobs_of(entry.manifest.digest);
    if (!blobs) return {};  // what it uses is unknown: keep everything
    used.push_back(entry.manifest.digest);
    used.insert(used.end(), blobs->begin(), blobs->end());
  }
  std::vector<std::string> released;
  for (const auto& digest : dropped) {
    auto blobs = blobs_of(digest);
    if (!blobs) continue;  // a manifest we cannot read: its blobs stay, and so does it
    std::vector<std::string> candidates = *blobs;
    candidates.push_back(digest);
    for (const auto& blob : candidates)
      if (std::find(used.begin(), used.end(), blob) == used.end() &&
          std::find(released.begin(), released.end(), blob) == released.end())
        released.push_back(blob);
  }
  return released;
}

}  // namespace runcvm::registry
