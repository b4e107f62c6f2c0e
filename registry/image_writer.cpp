#include "registry/image_writer.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "common/archive_error.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "registry/layout_writer.hpp"

namespace runcvm::registry {
namespace {

using Json = nlohmann::json;

std::string iso8601(std::time_t t) {
  char text[32];
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string config_json(const ImageConfig& c, const Layer& layer) {
  Json config = {{"Entrypoint", c.entrypoint}, {"Env", c.env}};
  if (!c.labels.empty()) config["Labels"] = c.labels;
  return Json{{"architecture", "amd64"},
              {"os", "linux"},
              {"created", iso8601(c.created)},
              {"config", config},
              {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.diff_id}}}}}
      .dump();
}

constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";

}  // namespace

WrittenImage write_oci_layout(const fs::path& dir, std::string_view tag, const ImageConfig& config,
                              const Layer& layer) {
  LayoutWriter writer(dir, "OCI layout");
  WrittenImage image;
  auto store = [&](const std::string& text) {
    std::string digest = "sha256:" + sha256_hex(text);
    write_file_atomic(writer.staged_blob(digest), text);
    return digest;
  };
  std::string config_text = config_json(config, layer);
  image.config_digest = store(config_text);
  // The layer (hundreds of MiB for the bundle) is copied only when the layout lacks it.
  if (!writer.has_blob({layer.media_type, layer.digest, layer.size}))
    fs::copy_file(layer.blob, writer.staged_blob(layer.digest), fs::copy_options::overwrite_existing);
  std::string manifest =
      Json{{"schemaVersion", 2},
           {"mediaType", kManifestType},
           {"config",
            {{"mediaType", "application/vnd.oci.image.config.v1+json"},
             {"digest", image.config_digest},
             {"size", config_text.size()}}},
           {"layers", {{{"mediaType", layer.media_type}, {"digest", layer.digest}, {"size", layer.size}}}}}
          .dump();
  image.manifest_digest = store(manifest);
  writer.commit({kManifestType, image.manifest_digest, manifest.size()}, tag);
  return image;
}

WrittenImage write_docker_archive(const fs::path& file, const std::string& reference, const ImageConfig& config,
                                  const Layer& layer) {
  if (layer.tar.empty())
    throw Error("docker-archive " + file.string() + ": the layer was built without keeping its tar (KeepTar::yes)");
  check_output_replaceable(file, "docker-archive", OutputKind::file);
  fs::path temporary = temporary_sibling(file);
  try {
    WrittenImage image;
    std::string config_text = config_json(config, layer);
    std::string config_hex = sha256_hex(config_text);
    image.config_digest = "sha256:" + config_hex;
    std::string layer_path = layer.diff_id.substr(7) + "/layer.tar";
    std::string manifest =
        Json::array({{{"Config", config_hex + ".json"}, {"RepoTags", {reference}}, {"Layers", {layer_path}}}}).dump();
    std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(), archive_write_free);
    archive* a = writer.get();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, temporary.c_str()) != ARCHIVE_OK)
      throw archive_error(a, "creating " + temporary.string());
    auto add = [&](const std::string& name, mode_t mode, const std::string* text, const fs::path* from) {
      std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
      archive_entry_set_pathname(entry.get(), name.c_str());
      archive_entry_set_mode(entry.get(), mode);
      archive_entry_set_mtime(entry.get(), config.created, 0);
      std::uint64_t size = text ? text->size() : from ? fs::file_size(*from) : 0;
      if (S_ISREG(mode)) archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
      if (archive_write_header(a, entry.get()) < ARCHIVE_WARN) throw archive_error(a, name);
      if (text && archive_write_data(a, text->data(), text->size()) < 0) throw archive_error(a, name);
      if (from) append_file_data(a, *from, name);
    };
    add(config_hex + ".json", S_IFREG | 0644, &config_text, nullptr);
    add(layer.diff_id.substr(7) + "/", S_IFDIR | 0755, nullptr, nullptr);
    add(layer_path, S_IFREG | 0644, nullptr, &layer.tar);
    add("manifest.json", S_IFREG | 0644, &manifest, nullptr);
    if (archive_write_close(a) != ARCHIVE_OK) throw archive_error(a, "finishing " + temporary.string());
    writer.reset();
    image.manifest_digest = "sha256:" + sha256_hex(manifest);
    fs::rename(temporary, file);  // a file: rename replaces an earlier one atomically
    return image;
  } catch (...) {
    remove_tree_quietly(temporary);
    throw;
  }
}

}  // namespace runcvm::registry
