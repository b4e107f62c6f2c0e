// HTTP(S) downloads on libcurl: streamed to a file with a running digest, retried with back-off
// on errors a retry can cure (connection failures, timeouts, 5xx, 429), never on 4xx.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "builder/fetch/progress.hpp"
#include "common/file.hpp"

namespace runcvm::fetch {

struct RetryPolicy {
  int attempts = 4;
  std::chrono::milliseconds first_delay{500};  // doubled after each failed attempt
};

struct Validators {  // from an earlier response, for a conditional GET
  std::string etag;
  std::string last_modified;
};

struct DownloadResult {
  bool not_modified = false;  // 304: the cached copy is current, nothing was written
  std::string sha256;         // hex digest of what was written
  std::uint64_t size = 0;
  Validators validators;
};

// The most a download may bring; a longer body is cut off (and refused before it starts when
// the server announces its length) and is an error naming `bytes` and `source`.
struct SizeLimit {
  std::uint64_t bytes = 0;
  std::string_view source;  // whose limit: "the index states", "runcvm-build accepts for an index"
};

// Process-wide libcurl setup; call once from main before threads start.
void global_init();

// Downloads `url` into `destination` (written in place; callers pass a temporary path), at most
// `limit` bytes.
DownloadResult download(const std::string& url, const fs::path& destination, const RetryPolicy& retry,
                        ProgressMeter* progress, const std::optional<Validators>& conditional, SizeLimit limit);

}  // namespace runcvm::fetch
