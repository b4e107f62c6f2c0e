// A content-addressed download cache: blobs are stored under a key derived from the digest the
// signed index promises, so a second run finds them without touching the network. Signed
// indexes themselves are kept by URL and refreshed with conditional GETs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "builder/fetch/http.hpp"
#include "common/file.hpp"

namespace runcvm::fetch {

struct CacheStats {
  std::atomic<std::uint64_t> bytes_downloaded{0};
  std::atomic<unsigned> files_downloaded{0};
  std::atomic<unsigned> files_from_cache{0};
};

// What a signed index (InRelease, APKINDEX.tar.gz) may weigh: its size is known to no one before
// its signature is checked, and the largest real ones are a few MiB (Ubuntu's InRelease: under 1).
inline constexpr std::uint64_t kIndexSizeLimit = 64ull << 20;

class BlobCache {
 public:
  // Indexes fetched less than `index_max_age` ago are reused without asking the mirror: many
  // mirrors send no validators, and a kernel index changes at most a few times a day.
  BlobCache(fs::path root, RetryPolicy retry, ProgressMeter* progress,
            std::chrono::seconds index_max_age = std::chrono::seconds(0),
            std::uint64_t index_size_limit = kIndexSizeLimit);

  // A file whose SHA256 and size the (verified) index states.
  fs::path fetch_sha256(const std::string& url, const std::string& sha256, std::uint64_t size);

  // A file identified by another digest: `key` names it in the cache and `verify` must throw if
  // the downloaded file does not match it.
  fs::path fetch_verified(const std::string& url, const std::string& key, std::uint64_t size,
                          const std::function<void(const fs::path&)>& verify);

  // An index with no digest known in advance; reused while younger than the max age, then
  // re-fetched only when the server says it changed (or sends no validators). A server sending
  // more than the index size limit is cut off: an error, nothing kept.
  fs::path fetch_index(const std::string& url);

  const CacheStats& stats() const { return stats_; }
  const fs::path& root() const { return root_; }

 private:
  fs::path temporary_file();
  bool present(const fs::path& path, std::uint64_t size);

  fs::path root_;
  RetryPolicy retry_;
  ProgressMeter* progress_;
  std::chrono::seconds index_max_age_;
  std::uint64_t index_size_limit_;
  CacheStats stats_;
};

// The cache when neither $XDG_CACHE_HOME nor $HOME names one: <parent>/runcvm-cache-<uid>, made
// 0700. Cached blobs are trusted by name and size, so a directory someone else made, or can write
// to, could hand this user a planted kernel: one that is not a directory (a link), not owned by
// `uid`, or writable by group or others is refused in one line.
fs::path private_cache_directory(const fs::path& parent, unsigned uid);

}  // namespace runcvm::fetch
