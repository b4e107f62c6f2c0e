// A one-layer image written into an OCI image layout directory or as a `docker load` archive.
// Documents are compact JSON with sorted keys (nlohmann's default), so equal inputs give equal
// digests. The archive is written under a temporary name and renamed when complete; the layout
// is created or added to as layout_writer.hpp describes.
#pragma once

#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "registry/layer.hpp"

namespace runcvm::registry {

struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> env;
  std::map<std::string, std::string> labels;
  std::time_t created = 0;
};

struct WrittenImage {
  std::string config_digest;
  std::string manifest_digest;  // sha256:<hex>: the image's identity in a registry
};

// `tag`: the image's tag in the layout (index.json's org.opencontainers.image.ref.name).
WrittenImage write_oci_layout(const fs::path& dir, std::string_view tag, const ImageConfig& config, const Layer& layer);
// `reference`: name:tag recorded in the archive's RepoTags.
WrittenImage write_docker_archive(const fs::path& file, const std::string& reference, const ImageConfig& config,
                                  const Layer& layer);

}  // namespace runcvm::registry
