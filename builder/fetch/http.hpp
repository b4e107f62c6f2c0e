// HTTP(S) downloads on libcurl: streamed to a file with a running digest, retried with back-off
// on errors a retry can cure (connection failures, timeouts, 5xx, 429), never on 4xx.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

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

// Process-wide libcurl setup; call once from main before threads start.
void global_init();

// Downloads `url` into `destination` (written in place; callers pass a temporary path). With
// `max_size` (the size a verified index states) a longer body is cut off and is an error.
DownloadResult download(const std::string& url, const fs::path& destination, const RetryPolicy& retry,
                        ProgressMeter* progress, const std::optional<Validators>& conditional = std::nullopt,
                        std::optional<std::uint64_t> max_size = std::nullopt);

}  // namespace runcvm::fetch
