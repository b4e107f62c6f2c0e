// Alpine repositories: APKINDEX.tar.gz (RSA-signed) -> .apk packages. The apk half of
// repository.hpp's interface, which picks it for a recipe of format apk.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "builder/fetch/cache.hpp"
#include "builder/kernels/package_index.hpp"
#include "builder/kernels/recipe.hpp"
#include "builder/kernels/unpack.hpp"

namespace runcvm::kernels {

// The text of each source and repository's APKINDEX, its signature checked against the
// recipe's keys.
std::vector<std::string> fetch_apk_signed_indexes(const Recipe& recipe, fetch::BlobCache& cache);
PackageMap load_apk_index(const Recipe& recipe, const std::vector<std::string>& indexes);
// Fetches a package and checks it against the index's checksum before the cache keeps it.
fs::path fetch_apk_package(const PackageEntry& package, fetch::BlobCache& cache);
// Unpacks the data member of an .apk through `filter`.
void extract_apk(const fs::path& file, const fs::path& root, const PathFilter& filter);

// The gzip members a package or APKINDEX is made of (signature, control, data).
std::vector<std::string_view> split_gzip_members(std::string_view data, std::string_view what);
// Verifies an APKINDEX.tar.gz / .apk signature member against keys in `key_directory` and returns
// the name of the key that signed it.
std::string verify_apk_signature(std::string_view signature_member, std::string_view signed_member,
                                 const fs::path& key_directory, std::string_view what);
// Checks a downloaded .apk against the index's "Q1…" checksum and its own data hash.
void verify_apk_package(std::string_view apk, std::string_view q1_checksum, std::string_view what);

}  // namespace runcvm::kernels
