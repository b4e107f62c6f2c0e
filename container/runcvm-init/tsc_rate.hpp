// The host's TSC rate, measured here: a microvm guest has no timer (HPET, ACPI PM) to calibrate
// its TSC against but the PIT, and under TCG that calibration fails often enough (the emulated
// PIT runs late on a busy host) to leave the kernel without a clock, hung at boot. The guest's
// TSC runs at the host's (TCG reads the host's; KVM passes it through), so the kernel is told
// the rate instead (tsc_early_khz=).
#pragma once

#include <cstdint>

namespace runcvm::container_init {

// kHz, from the TSC against CLOCK_MONOTONIC_RAW over about 10 ms; 0 where there is no TSC.
std::uint64_t measure_tsc_khz();

}  // namespace runcvm::container_init
