#include "common/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

extern char* program_invocation_short_name;

namespace runcvm {

bool progress_wanted() {
  const char* ci = std::getenv("CI");
  return ::isatty(STDERR_FILENO) == 1 && (ci == nullptr || *ci == '\0');
}

static void emit(std::string_view level, std::string_view message) {
  // On a terminal a progress line may be showing: erase it first; it is redrawn on its next tick.
  static const bool terminal = ::isatty(STDERR_FILENO) == 1;
  std::string line = std::string(terminal ? "\r\033[K" : "") + program_invocation_short_name + ": " +
                     std::string(level) + std::string(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void warn(std::string_view message) { emit("warning: ", message); }
void info(std::string_view message) { emit("", message); }

}  // namespace runcvm
