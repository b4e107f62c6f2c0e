// Finished kernel artifacts kept in the download cache under their build-inputs key
// (build_inputs.hpp): a second run with the same inputs, into any --out, takes the artifact from
// here instead of unpacking and indexing the packages again. Entries are hard links of the files
// installed (copies across filesystems), and appear by rename only when complete, so concurrent
// runs sharing a cache never see half an entry.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/file.hpp"

namespace runcvm::kernels {

class ArtifactCache {
 public:
  // Finished artifacts under <cache_root>/artifacts, complete when their manifest is there.
  explicit ArtifactCache(const fs::path& cache_root);
  // Another kind of tree under <cache_root>/<directory>, complete when `marker` (a file in it) is.
  ArtifactCache(const fs::path& cache_root, std::string_view directory, std::string marker);

  // The complete artifact directory kept for `key`, if any.
  std::optional<fs::path> find(const std::string& key) const;
  // Keeps `artifact` (a finished artifact directory) under `key`; another run keeping the same
  // key first wins, which is the same artifact.
  void keep(const fs::path& artifact, const std::string& key) const;

 private:
  fs::path root_;
  std::string marker_;
};

}  // namespace runcvm::kernels
