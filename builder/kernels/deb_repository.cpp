#include "builder/kernels/deb_repository.hpp"

#include <unistd.h>

#include <cstdlib>

#include "builder/kernels/unpack.hpp"
#include "common/error.hpp"
#include "common/file.hpp"
#include "common/process.hpp"

namespace runcvm::kernels {
namespace {

struct TemporaryPath {
  fs::path path;
  ~TemporaryPath() { ::unlink(path.c_str()); }
};

// The index file for one component, preferring the smallest encoding the Release lists.
std::pair<std::string, FileDigest> packages_file(const ReleaseIndex& release, const std::string& component,
                                                 const std::string& architecture, const std::string& where) {
  std::string base = component + "/binary-" + architecture + "/Packages";
  for (const char* suffix : {".xz", ".gz", ""}) {
    auto it = release.sha256_files.find(base + suffix);
    if (it != release.sha256_files.end()) return *it;
  }
  throw Error("InRelease of " + where + " lists no " + quote(base) + " index")
      .with_hint("check the recipe's `components` and `architecture`");
}

}  // namespace

std::string verify_clearsigned(const fs::path& signed_file, const fs::path& keyring) {
  std::error_code ec;
  if (!fs::is_regular_file(keyring, ec))
    throw Error("keyring " + quote(keyring.string()) + " does not exist")
        .with_hint("install the distribution's keyring package (debian-archive-keyring, ubuntu-keyring)");
  TemporaryPath output{temporary_sibling(signed_file)};
  auto result = run_process({"gpgv", "--quiet", "--keyring", fs::absolute(keyring).string(), "--output",
                             output.path.string(), signed_file.string()});
  if (result.exit_code != 0) {
    std::string reason = last_line(result.standard_error);  // gpgv ends with the verdict
    throw Error("OpenPGP signature check failed: " +
                (reason.empty() ? "gpgv exited " + std::to_string(result.exit_code) : reason))
        .with_hint("the index is not signed by a key in " + keyring.string());
  }
  return read_file(output.path);
}

namespace {

// A mirror (or whoever sits between) could serve an older, validly signed InRelease to bring
// back packages with known holes. Its Date may only move forward: the newest Date accepted for
// this index is kept beside it in the cache, and an older one is refused.
void refuse_rollback(const ReleaseIndex& release, const fs::path& inrelease) {
  if (!release.date) return;
  fs::path newest_file = inrelease.string() + ".newest-date";
  std::time_t newest = 0;
  std::error_code ec;
  if (fs::exists(newest_file, ec)) {
    std::string text = read_file(newest_file);
    newest = static_cast<std::time_t>(std::strtoll(text.c_str(), nullptr, 10));
  }
  if (*release.date < newest)
    throw Error("InRelease is dated " + format_release_date(*release.date) + ", older than the " +
                format_release_date(newest) + " this cache accepted before: refusing a rollback")
        .with_hint(
            "a stale mirror or an attack replaying an old index; use another mirror, or a fresh --cache to start over");
  if (*release.date > newest) write_file_atomic(newest_file, std::to_string(static_cast<long long>(*release.date)));
}

}  // namespace

std::vector<std::string> fetch_deb_signed_indexes(const Recipe& recipe, fetch::BlobCache& cache, std::time_t now) {
  std::vector<std::string> releases;
  for (const auto& source : recipe.sources) {
    std::string where = source.mirror + " " + source.suite;
    in_context("reading the index of " + where, [&] {
      fs::path inrelease = cache.fetch_index(source.mirror + "/dists/" + source.suite + "/InRelease");
      std::string signed_text = verify_clearsigned(inrelease, recipe.keyring);
      ReleaseIndex release = parse_release(signed_text);
      refuse_rollback(release, inrelease);
      if (release.valid_until && *release.valid_until < now)
        throw Error("InRelease expired (Valid-Until is in the past)")
            .with_hint(
                "the mirror is stale or the clock is wrong; expired indexes allow replaying old, vulnerable packages");
      releases.push_back(std::move(signed_text));
    });
  }
  return releases;
}

PackageMap load_deb_index(const Recipe& recipe, const std::vector<std::string>& releases, fetch::BlobCache& cache) {
  PackageMap packages;
  for (std::size_t i = 0; i < recipe.sources.size(); ++i) {
    const auto& source = recipe.sources[i];
    std::string where = source.mirror + " " + source.suite;
    std::string dists = source.mirror + "/dists/" + source.suite + "/";
    in_context("reading the index of " + where, [&] {
      ReleaseIndex release = parse_release(releases.at(i));
      for (const auto& component : source.components) {
        auto [path, digest] = packages_file(release, component, recipe.architecture, where);
        std::string url = dists + path;
        if (release.acquire_by_hash) {
          // By-hash URLs never change content, so a mirror sync cannot race with this download.
          url = dists + fs::path(path).parent_path().string() + "/by-hash/SHA256/" + digest.sha256;
        }
        fs::path file = cache.fetch_sha256(url, digest.sha256, digest.size);
        // Named by its path in the mirror: the cache's file is named by its digest.
        std::string text = fs::path(path).extension().empty()
                               ? read_file(file)
                               : decompress(read_file(file), dists + path, kIndexDecompressedLimit);
        merge_newest(packages, parse_packages(text, source.mirror));
      }
    });
  }
  return packages;
}

fs::path fetch_deb_package(const PackageEntry& package, fetch::BlobCache& cache) {
  return cache.fetch_sha256(package.base_url + "/" + package.filename, package.checksum, package.size);
}

}  // namespace runcvm::kernels
