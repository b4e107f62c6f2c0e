// runcvm-runtime: the OCI runtime Docker calls for --runtime=runcvm. Rewrites the spec so the
// container boots a VM, then runs the real runc with the original arguments.
#include "runtime/command.hpp"

int main(int argc, char** argv) {
  return runcvm::runtime::run_runtime(std::span<char*>(argv, static_cast<size_t>(argc)));
}
