// `runcvm-build kernels`: recipes in, installed kernel artifacts out.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "builder/fetch/http.hpp"
#include "common/file.hpp"

namespace runcvm::kernels {

struct KernelsOptions {
  std::vector<fs::path> recipes;       // resolved recipe files
  fs::path out;                        // installs to out/kernels/…
  fs::path cache;                      // the download cache
  fs::path initramfs_init;             // the static init put into each initramfs
  std::optional<std::string> mirror;   // replaces every source's mirror (local mirrors, tests)
  std::optional<std::string> keyring;  // replaces every recipe's keyring
  fetch::RetryPolicy retry;
  std::chrono::seconds index_max_age{3600};  // signed indexes younger than this are not re-fetched
  unsigned jobs = 4;                         // parallel downloads
  bool timings = false;
  std::time_t timestamp = 0;  // SOURCE_DATE_EPOCH: mtimes inside the initramfs
};

void run_kernels(const KernelsOptions& options);

}  // namespace runcvm::kernels
