// RUNCVM_HUGETLB: the guest's RAM comes from the host's pool of 2 MiB huge pages, which the
// operator sizes (vm.nr_hugepages). Checked before QEMU starts, so a short pool is one clear line
// rather than QEMU's allocation failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runcvm::container_init {

// What is wrong with the pool described by `meminfo` (/proc/meminfo's text) for a VM of
// `memory_mib`; nullopt when it has enough free 2 MiB pages.
std::optional<std::string> hugepages_problem(std::string_view meminfo, std::uint64_t memory_mib);

}  // namespace runcvm::container_init
