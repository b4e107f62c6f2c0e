// What a kernel artifact is made of, as one key: when none of it changed, the artifact a
// `runcvm-build kernels` run made before is the one this run would make, and is reused.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "builder/kernels/recipe.hpp"

namespace runcvm::kernels {

struct BuildInputs {
  const Recipe* recipe = nullptr;           // after the command line's --mirror and --keyring
  std::vector<std::string> signed_indexes;  // verified texts: they pin every package by its digest
  std::string initramfs_init_sha256;
  std::string builder_sha256;  // runcvm-build itself: any change to how artifacts are made
  std::time_t timestamp = 0;   // SOURCE_DATE_EPOCH, inside the initramfs
};

// A SHA-256 hex digest of every input, each field named, so no two different inputs share a key.
std::string build_inputs_key(const BuildInputs& inputs);

}  // namespace runcvm::kernels
