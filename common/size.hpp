// Sizes as users write them: "512M", "2G", "1048576" (bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace runcvm {

// Bytes; nullopt when malformed or too large. K, M, G, T (either case) are powers of 1024.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace runcvm
