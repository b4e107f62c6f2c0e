// The runcvm-build command line: subcommand dispatch and option parsing, nothing else.
#pragma once

#include <span>
#include <string_view>

namespace runcvm::builder {

int run_command_line(std::span<char*> args);

}  // namespace runcvm::builder
