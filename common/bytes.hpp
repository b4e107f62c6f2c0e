// Reading fixed-layout values out of untrusted bytes (kernel images, netlink answers) without
// reading past the end.
#pragma once

#include <cstring>
#include <optional>
#include <string_view>

namespace runcvm {

// The T stored at `offset`, or nullopt when the bytes end before it does.
template <class T>
std::optional<T> read_at(std::string_view data, std::size_t offset) {
  if (offset > data.size() || data.size() - offset < sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, data.data() + offset, sizeof(T));
  return value;
}

}  // namespace runcvm
