#include "container/runcvm-init/hugepages.hpp"

#include <algorithm>
#include <charconv>

#include "common/text.hpp"

namespace runcvm::container_init {
namespace {

// The number after "<key>:" on its line of /proc/meminfo, or nullopt.
std::optional<std::uint64_t> meminfo_value(std::string_view meminfo, std::string_view key) {
  for (const std::string& line : split_nonempty(meminfo, '\n')) {
    if (line.size() <= key.size() || !line.starts_with(key) || line[key.size()] != ':') continue;
    std::string_view rest = std::string_view(line).substr(key.size() + 1);
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || ptr == rest.data()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> hugepages_problem(std::string_view meminfo, std::uint64_t memory_mib) {
  std::uint64_t needed = (memory_mib + 1) / 2;
  auto page_kib = meminfo_value(meminfo, "Hugepagesize");
  if (page_kib && *page_kib != 2048)
    return "RUNCVM_HUGETLB: the host's default huge page is " + std::to_string(*page_kib) +
           " kB; the VM uses 2 MiB pages: reserve them with vm.nr_hugepages (or hugepages-2048kB/nr_hugepages)";
  auto free_pages = meminfo_value(meminfo, "HugePages_Free");
  auto reserved = meminfo_value(meminfo, "HugePages_Rsvd");
  std::uint64_t available = free_pages.value_or(0) - std::min(free_pages.value_or(0), reserved.value_or(0));
  if (available >= needed) return std::nullopt;
  // The pool as it is, plus what this VM lacks.
  std::uint64_t enough = meminfo_value(meminfo, "HugePages_Total").value_or(0) + (needed - available);
  return "RUNCVM_HUGETLB: the VM's " + std::to_string(memory_mib) + " MiB need " + std::to_string(needed) +
         " huge pages of 2 MiB and the host has " + std::to_string(available) +
         " free: raise vm.nr_hugepages on the host (sysctl -w vm.nr_hugepages=" + std::to_string(enough) + " or more)";
}

}  // namespace runcvm::container_init
