#include <iostream>

#include "builder/cli.hpp"
#include "builder/fetch/http.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  runcvm::fetch::global_init();
  try {
    return runcvm::builder::run_command_line(std::span<char*>(argv, static_cast<std::size_t>(argc)));
  } catch (const std::exception& e) {
    std::cerr << runcvm::format_error_line("runcvm-build", e) << "\n";
    return 1;
  }
}
