// Adds one image to an OCI image layout, new or existing, so that a reader always finds a whole
// layout. Blobs are gathered in a staging directory beside the layout. A new layout is completed
// there and renamed into place. An existing one (several tags live in one layout) is locked,
// receives the staged blobs it lacks (each renamed in: complete or absent), then a new index.json
// (written to a temporary name and renamed over the old one), and last loses the blobs that only
// a manifest whose tag moved away used. A failure before the index is replaced removes the blobs
// it added: the layout is as it was.
#pragma once

#include <string>
#include <string_view>

#include "common/fd.hpp"
#include "common/file.hpp"
#include "registry/manifest.hpp"

namespace runcvm::registry {

class LayoutWriter {
 public:
  // Refuses (Error naming `option`) a path that is not absent, an empty directory or an OCI layout,
  // and a layout whose index.json cannot be read, before any work. Another writer of the same
  // layout waits until this one is done (a lock on the directory).
  LayoutWriter(const fs::path& layout, std::string_view option);
  LayoutWriter(const LayoutWriter&) = delete;
  LayoutWriter& operator=(const LayoutWriter&) = delete;

  // Whether the layout holds blob `blob` already (same digest and size): no need to fetch it.
  bool has_blob(const Descriptor& blob) const;
  // Where blob `digest` (checked by blob_file_name) is written until commit().
  fs::path staged_blob(std::string_view digest) const;
  // Adds the staged blobs and the manifest `manifest` (staged, or present) as `tag` ("": untagged).
  void commit(const Descriptor& manifest, std::string_view tag);

 private:
  fs::path layout_;
  std::string option_;
  UniqueFd lock_;  // held while the layout exists
  StagingDirectory staging_;
};

}  // namespace runcvm::registry
