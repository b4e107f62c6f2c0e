// A one-layer image written as an OCI image layout directory or as a `docker load` archive.
// Documents are compact JSON with sorted keys (nlohmann's default), so equal inputs give equal
// digests. Both are written under a temporary name and renamed when complete.
#pragma once

#include <ctime>
#include <map>
#include <string>
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

// `reference`: name:tag recorded in index.json (org.opencontainers.image.ref.name) / RepoTags.
WrittenImage write_oci_layout(const fs::path& dir, const std::string& reference, const ImageConfig& config,
                              const Layer& layer);
WrittenImage write_docker_archive(const fs::path& file, const std::string& reference, const ImageConfig& config,
                                  const Layer& layer);

}  // namespace runcvm::registry
