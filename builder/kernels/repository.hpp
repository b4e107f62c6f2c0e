// A recipe's package repository: load its signed index, fetch packages verified against it, and
// unpack their kernel payload. deb and apk repositories differ only behind this interface.
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

// deb: checks an InRelease file's OpenPGP signature with gpgv and returns the signed text only.
std::string verify_clearsigned(const fs::path& signed_file, const fs::path& keyring);

// apk: the gzip members a package or APKINDEX is made of (signature, control, data).
std::vector<std::string_view> split_gzip_members(std::string_view data, std::string_view what);
// Verifies an APKINDEX.tar.gz / .apk signature member against keys in `key_directory` and returns
// the name of the key that signed it.
std::string verify_apk_signature(std::string_view signature_member, std::string_view signed_member,
                                 const fs::path& key_directory, std::string_view what);
// Checks a downloaded .apk against the index's "Q1…" checksum and its own data hash.
void verify_apk_package(std::string_view apk, std::string_view q1_checksum, std::string_view what);

}  // namespace runcvm::kernels
