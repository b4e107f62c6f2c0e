// Reading fixed-layout values out of untrusted bytes (kernel images, netlink answers) without
// reading past the end, and the big-endian integers of our formats (the channel's frames, kmod's
// index).
#pragma once

#include <concepts>
#include <cstring>
#include <optional>
#include <string>
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

// Writes `value` most significant byte first over the sizeof(T) bytes at `offset` of `out` (a
// field patched once its value is known); the caller has made `out` long enough.
template <std::unsigned_integral T>
void store_big_endian(std::string& out, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[offset + i] = static_cast<char>((value >> (8 * (sizeof(T) - 1 - i))) & 0xff);
}

// Appends `value` most significant byte first.
template <std::unsigned_integral T>
void append_big_endian(std::string& out, T value) {
  out.append(sizeof(T), '\0');
  store_big_endian(out, out.size() - sizeof(T), value);
}

// The big-endian T at the start of `data`; the caller has checked that it holds sizeof(T) bytes.
template <std::unsigned_integral T>
T big_endian(std::string_view data) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    value = static_cast<T>((value << 8) | static_cast<unsigned char>(data[i]));
  return value;
}

}  // namespace runcvm
