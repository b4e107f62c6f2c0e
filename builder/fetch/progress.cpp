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

ProgressMeter::~ProgressMeter() {
  if (!enabled_) return;
  stop_ = true;
  painter_.join();
  if (files_started_ > 0) draw(true);
}

void ProgressMeter::draw(bool final) {
  if (files_started_ == 0) return;
  double done = static_cast<double>(done_) / 1e6;
  double expected = static_cast<double>(expected_) / 1e6;
  std::fprintf(stderr, "\r\033[Kdownloading: %u/%u files, %.1f/%.1f MB%s", files_finished_.load(),
               files_started_.load(), done, expected, final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace runcvm::fetch
