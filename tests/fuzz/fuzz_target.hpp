// Shared shape of the libFuzzer targets: a parser of untrusted input may throw runcvm::Error (a
// clean rejection); anything else (a crash, a sanitizer report, another exception) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.hpp"

namespace runcvm::fuzz {

template <class Parse>
int run(const std::uint8_t* data, std::size_t size, Parse parse) {
  try {
    parse(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace runcvm::fuzz
