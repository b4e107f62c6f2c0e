#include "registry/image_writer.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "common/archive_error.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"

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

// Moves the finished `temporary` directory to `target`, replacing an earlier one (which
// check_output_replaceable vouched for).
void put_in_place(const fs::path& temporary, const fs::path& target) {
  remove_tree_quietly(target);
  fs::rename(temporary, target);
}

}  // namespace

WrittenImage write_oci_layout(const fs::path& dir, const std::string& reference, const ImageConfig& config,
                              const Layer& layer) {
  check_output_replaceable(dir, "OCI layout", OutputKind::directory, "oci-layout");
  StagingDirectory staging(temporary_sibling(dir));
  const fs::path& work = staging.path();
  fs::path blobs = work / "blobs" / "sha256";
  fs::create_directories(blobs);
  auto store = [&](const std::string& text) {
    std::string hex = sha256_hex(text);
    write_file_atomic(blobs / hex, text);
    return "sha256:" + hex;
  };
  WrittenImage image;
  std::string config_text = config_json(config, layer);
  image.config_digest = store(config_text);
  fs::copy_file(layer.blob, blobs / layer.digest.substr(7), fs::copy_options::overwrite_existing);
  std::string manifest =
      Json{{"schemaVersion", 2},
           {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
           {"config",
            {{"mediaType", "application/vnd.oci.image.config.v1+json"},
             {"digest", image.config_digest},
             {"size", config_text.size()}}},
           {"layers", {{{"mediaType", layer.media_type}, {"digest", layer.digest}, {"size", layer.size}}}}}
          .dump();
  image.manifest_digest = store(manifest);
  write_file_atomic(work / "oci-layout", Json{{"imageLayoutVersion", "1.0.0"}}.dump());
  write_file_atomic(work / "index.json", Json{{"schemaVersion", 2},
                                              {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                              {"manifests",
                                               {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                                 {"digest", image.manifest_digest},
                                                 {"size", manifest.size()},
                                                 {"annotations", {{"org.opencontainers.image.ref.name", reference}}}}}}}
                                             .dump());
  put_in_place(work, dir);
  staging.release();
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
