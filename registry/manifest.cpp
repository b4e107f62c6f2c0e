#include "registry/manifest.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "registry/client.hpp"

namespace runcvm::registry {
namespace {

using Json = nlohmann::json;

Descriptor parse_descriptor(const Json& json, const std::string& field, std::string_view where) {
  auto bad = [&](const std::string& why) { return Error(std::string(where) + ": field `" + field + "`: " + why); };
  if (!json.is_object()) throw bad("expected {\"digest\": \"sha256:…\", \"size\": <bytes>}");
  Descriptor d;
  auto digest = json.find("digest");
  if (digest == json.end() || !digest->is_string()) throw bad("expected a digest");
  d.digest = digest->get<std::string>();
  blob_file_name(d.digest, std::string(where) + ": field `" + field + ".digest`");  // throws unless sha256:<hex>
  auto size = json.find("size");
  if (size == json.end() || !size->is_number_unsigned()) throw bad("expected a size in bytes");
  d.size = size->get<std::uint64_t>();
  if (auto media_type = json.find("mediaType"); media_type != json.end() && media_type->is_string())
    d.media_type = media_type->get<std::string>();
  return d;
}

}  // namespace

ImageManifest parse_image_manifest(std::string_view text, std::string_view where) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) throw Error(std::string(where) + ": not a JSON object");
  ImageManifest manifest;
  if (auto media_type = json.find("mediaType"); media_type != json.end() && media_type->is_string())
    manifest.media_type = media_type->get<std::string>();
  auto config = json.find("config");
  if (config == json.end()) throw Error(std::string(where) + ": no `config`: not an image manifest (an index?)");
  manifest.config = parse_descriptor(*config, "config", where);
  auto layers = json.find("layers");
  if (layers == json.end() || !layers->is_array())
    throw Error(std::string(where) + ": field `layers`: expected a list");
  for (std::size_t i = 0; i < layers->size(); ++i)
    manifest.layers.push_back(parse_descriptor((*layers)[i], "layers[" + std::to_string(i) + "]", where));
  return manifest;
}

}  // namespace runcvm::registry
