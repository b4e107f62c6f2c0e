// An image manifest as a registry (or an OCI layout) sends it: the config and layer descriptors a
// pull follows. Parsed as hostile input: every digest is checked (it becomes a file name) and
// every size is a whole number (it bounds the download).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::registry {

struct Descriptor {
  std::string media_type;
  std::string digest;  // sha256:<64 lower-case hex>
  std::uint64_t size = 0;
};

struct ImageManifest {
  std::string media_type;  // "" when the manifest does not say
  Descriptor config;
  std::vector<Descriptor> layers;
};

// Throws Error naming `where` and the bad field.
ImageManifest parse_image_manifest(std::string_view text, std::string_view where);

}  // namespace runcvm::registry
