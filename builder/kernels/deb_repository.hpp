// Debian-format repositories (Debian, Ubuntu): InRelease -> Packages.{xz,gz} -> .deb. The deb
// half of repository.hpp's interface, which picks it for a recipe of format deb.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "builder/fetch/cache.hpp"
#include "builder/kernels/package_index.hpp"
#include "builder/kernels/recipe.hpp"

namespace runcvm::kernels {

// Each source's InRelease, signature-checked with gpgv, refused when expired at `now` or dated
// before one this cache accepted.
std::vector<std::string> fetch_deb_signed_indexes(const Recipe& recipe, fetch::BlobCache& cache, std::time_t now);
// The Packages lists those `releases` name, each checked against its signed digest.
PackageMap load_deb_index(const Recipe& recipe, const std::vector<std::string>& releases, fetch::BlobCache& cache);
fs::path fetch_deb_package(const PackageEntry& package, fetch::BlobCache& cache);

// Checks an InRelease file's OpenPGP signature with gpgv and returns the signed text only.
std::string verify_clearsigned(const fs::path& signed_file, const fs::path& keyring);

}  // namespace runcvm::kernels
