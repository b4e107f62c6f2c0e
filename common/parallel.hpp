// A small fork-join helper for independent work items (downloads, module scans).
#pragma once

#include <cstddef>
#include <functional>

namespace runcvm {

// Runs work(i) for every i in [0, count) on up to `width` threads (the caller's included); stops
// handing out items after the first failure and rethrows it once all threads have joined.
void parallel_for(std::size_t count, unsigned width, const std::function<void(std::size_t)>& work);

// The number of threads worth using for CPU-bound work here.
unsigned hardware_threads();

}  // namespace runcvm
