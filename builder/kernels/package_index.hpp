// Repository indexes as data: Debian Release/Packages (deb822) and Alpine APKINDEX, parsed by
// pure functions into the few fields the kernel pipeline needs.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::kernels {

struct FileDigest {
  std::string sha256;  // lower-case hex
  std::uint64_t size = 0;
};

struct ReleaseIndex {
  std::string suite;
  std::string codename;
  std::optional<std::time_t> date;  // when the archive signed it; a later index never has an earlier one
  std::optional<std::time_t> valid_until;
  bool acquire_by_hash = false;
  std::map<std::string, FileDigest> sha256_files;  // path relative to dists/<suite>/
};

// One package as the index describes it; `checksum` is the index's integrity value for the file
// (deb: SHA256 hex; apk: "Q1" + base64 SHA1 of the control section).
struct PackageEntry {
  std::string name;
  std::string version;
  std::string filename;  // deb: path below the mirror; apk: path below <branch>/<repo>/<arch>
  std::string checksum;
  std::uint64_t size = 0;
  std::vector<std::string> depends;  // names only: first alternative, constraints dropped
  std::string base_url;              // where `filename` is relative to
};

using PackageMap = std::map<std::string, PackageEntry>;

// A deb822 paragraph: field name -> value; continuation lines are kept, joined with '\n'.
using Paragraph = std::map<std::string, std::string, std::less<>>;
std::vector<Paragraph> parse_deb822(std::string_view text);

ReleaseIndex parse_release(std::string_view text);
std::vector<PackageEntry> parse_packages(std::string_view text, std::string_view base_url);
std::vector<PackageEntry> parse_apkindex(std::string_view text, std::string_view base_url);

// The dpkg ordering: epoch, upstream version and revision, with '~' sorting before everything.
int compare_versions(std::string_view a, std::string_view b);

// Adds `entries` to `packages`, keeping the highest version of each name.
void merge_newest(PackageMap& packages, std::vector<PackageEntry> entries);

// The packages a recipe needs: `start` plus the transitive dependencies whose names match one of
// `follow` (shell globs). Throws naming the first missing package.
std::vector<PackageEntry> resolve_packages(const PackageMap& packages, std::string_view start,
                                           const std::vector<std::string>& follow, std::string_view where);

// RFC 1123 / RFC 2822 dates as Release files write them ("Sat, 10 Jun 2023 08:55:34 UTC").
std::optional<std::time_t> parse_release_date(std::string_view text);
// The other way: "Sat, 01 Jan 2022 00:00:00 UTC".
std::string format_release_date(std::time_t when);

}  // namespace runcvm::kernels
