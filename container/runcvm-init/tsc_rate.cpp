#include "container/runcvm-init/tsc_rate.hpp"

#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace runcvm::container_init {
namespace {

std::uint64_t raw_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC_RAW, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(t.tv_nsec);
}

}  // namespace

std::uint64_t measure_tsc_khz() {
#if defined(__x86_64__)
  // Each end reads both clocks back to back, so a preemption while sleeping costs nothing; one
  // between the two reads costs microseconds against 10 ms: well under 0.1 %.
  std::uint64_t start_ns = raw_ns(), start_tsc = __rdtsc();
  timespec pause{0, 10'000'000};
  while (::nanosleep(&pause, &pause) != 0) {
  }
  std::uint64_t end_tsc = __rdtsc(), end_ns = raw_ns();
  if (end_ns <= start_ns) return 0;
  return (end_tsc - start_tsc) * 1'000'000ull / (end_ns - start_ns);
#else
  return 0;
#endif
}

}  // namespace runcvm::container_init
