// Linux capability names as the OCI spec writes them ("CAP_NET_ADMIN") and their numbers, for
// programs that set capability sets with the raw system calls (libcap is not a dependency).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm {

std::optional<int> capability_number(std::string_view name);
// The set as a bit mask (bit n: capability n). Names this table does not know are left out, as
// runc leaves out capabilities its kernel does not know.
std::uint64_t capability_mask(const std::vector<std::string>& names);
// Every name this table knows, in number order.
std::vector<std::string> capability_names();

}  // namespace runcvm
