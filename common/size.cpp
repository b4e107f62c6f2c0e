#include "common/size.hpp"

#include <charconv>
#include <cstdint>

namespace runcvm {

std::optional<std::uint64_t> parse_size(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t unit = 1;
  switch (text.back()) {
    case 'K':
    case 'k':
      unit = 1ull << 10;
      break;
    case 'M':
    case 'm':
      unit = 1ull << 20;
      break;
    case 'G':
    case 'g':
      unit = 1ull << 30;
      break;
    case 'T':
    case 't':
      unit = 1ull << 40;
      break;
    default:
      break;
  }
  if (unit != 1) text.remove_suffix(1);
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  if (n > UINT64_MAX / unit) return std::nullopt;
  return n * unit;
}

}  // namespace runcvm
