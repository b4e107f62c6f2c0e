#include "builder/kernels/artifact_cache.hpp"

#include "handoff/kernel_artifact.hpp"

namespace runcvm::kernels {

namespace artifact = handoff::kernel_artifact;

ArtifactCache::ArtifactCache(const fs::path& cache_root)
    : ArtifactCache(cache_root, "artifacts", artifact::kManifest) {}

ArtifactCache::ArtifactCache(const fs::path& cache_root, std::string_view directory, std::string marker)
    : root_(cache_root / directory), marker_(std::move(marker)) {
  make_directories(root_);
}

std::optional<fs::path> ArtifactCache::find(const std::string& key) const {
  fs::path entry = root_ / key;
  std::error_code ec;
  // The marker (an artifact's manifest) is written last, and entries are renamed in whole.
  if (fs::is_regular_file(entry / marker_, ec)) return entry;
  return std::nullopt;
}

void ArtifactCache::keep(const fs::path& artifact, const std::string& key) const {
  if (find(key)) return;
  fs::path entry = root_ / key;
  StagingDirectory staging(temporary_sibling(entry));
  fs::path tree = staging.path() / "artifact";
  link_tree(artifact, tree);
  // An entry damaged from outside (no manifest) is replaced; a rename that fails because another
  // run kept the same key meanwhile leaves theirs, the same artifact.
  std::error_code ec;
  if (fs::exists(entry, ec)) {
    if (find(key)) return;  // kept whole meanwhile by another run: never move what others may read
    fs::rename(entry, staging.path() / "damaged", ec);
  }
  fs::rename(tree, entry, ec);
}

}  // namespace runcvm::kernels
