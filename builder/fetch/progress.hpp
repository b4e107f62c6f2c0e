// Aggregate download progress for all transfers of one run; drawn on a terminal only.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace runcvm::fetch {

class ProgressMeter {
 public:
  explicit ProgressMeter(bool enabled);
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  void add_expected(std::uint64_t bytes) { expected_ += bytes; }
  void add_done(std::uint64_t bytes) { done_ += bytes; }
  void file_started() { ++files_started_; }
  void file_finished() { ++files_finished_; }
  // Ends the line (once, when there was anything to show) so later messages start on their own
  // line; called when the downloads of a run are over, and by the destructor.
  void finish();

 private:
  void draw(bool final);

  bool enabled_;
  std::atomic<std::uint64_t> expected_{0};
  std::atomic<std::uint64_t> done_{0};
  std::atomic<unsigned> files_started_{0};
  std::atomic<unsigned> files_finished_{0};
  std::atomic<bool> stop_{false};
  std::thread painter_;
};

}  // namespace runcvm::fetch
