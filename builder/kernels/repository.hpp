// A recipe's package repository: load its signed index, fetch packages verified against it, and
// unpack their kernel payload. deb and apk repositories differ only behind this interface
// (deb_repository.hpp, apk_repository.hpp).
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "builder/fetch/cache.hpp"
#include "builder/kernels/package_index.hpp"
#include "builder/kernels/recipe.hpp"

namespace runcvm::kernels {

// The signed text of each index the recipe reads, in the recipe's order (deb: each source's
// InRelease; apk: each source and repository's APKINDEX), signature-checked and, for deb, refused
// when expired or older than one accepted before. Small and cheap: the package lists they name
// are read by load_package_index, only when the build inputs changed.
std::vector<std::string> fetch_signed_indexes(const Recipe& recipe, fetch::BlobCache& cache, std::time_t now);
// The package lists those signed indexes name (each checked against its signed digest); the
// newest version of each package wins.
PackageMap load_package_index(const Recipe& recipe, const std::vector<std::string>& signed_indexes,
                              fetch::BlobCache& cache);
fs::path fetch_package(const Recipe& recipe, const PackageEntry& package, fetch::BlobCache& cache);
void extract_kernel_payload(const Recipe& recipe, const fs::path& package_file, const fs::path& root);

}  // namespace runcvm::kernels
