// Diagnostics on stderr. Progress output is for people: only on a terminal and never under CI.
#pragma once

#include <string_view>

namespace runcvm {

bool progress_wanted();
void warn(std::string_view message);
void info(std::string_view message);

}  // namespace runcvm
