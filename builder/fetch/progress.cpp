#include "builder/fetch/progress.hpp"

#include <chrono>
#include <cstdio>

namespace runcvm::fetch {

ProgressMeter::ProgressMeter(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  painter_ = std::thread([this] {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      draw(false);
    }
  });
}

ProgressMeter::~ProgressMeter() { finish(); }

void ProgressMeter::finish() {
  if (!enabled_ || stop_.exchange(true)) return;
  painter_.join();
  draw(true);
}

void ProgressMeter::draw(bool final) {
  if (files_started_ == 0) return;
  char line[128];
  std::snprintf(line, sizeof line, "downloading: %u/%u files, %.1f/%.1f MB", files_finished_.load(),
                files_started_.load(), static_cast<double>(done_) / 1e6, static_cast<double>(expected_) / 1e6);
  std::fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace runcvm::fetch
