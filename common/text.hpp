// Small text helpers shared by parsers of line- and colon-separated data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace runcvm {

// The pieces of `text` between `separator`s, leaving out empty ones ("a::b\n" → "a", "b").
std::vector<std::string> split_nonempty(std::string_view text, char separator);

}  // namespace runcvm
