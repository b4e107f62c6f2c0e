// What a kernel artifact is made of, as one key: when none of it changed, the artifact a
// `runcvm-build kernels` run made before is the one this run would make, and is reused.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "builder/kernels/recipe.hpp"

namespace runcvm::kernels {

struct BuildInputs {
  const Recipe* recipe = nullptr;           // after the command line's --mirror and --keyring
  std::vector<std::string> signed_indexes;  // verified texts: they pin every package by its digest
  std::string initramfs_init_sha256;
  std::string builder_sha256;  // runcvm-build itself: any change to how artifacts are made
  std::time_t timestamp = 0;   // SOURCE_DATE_EPOCH, inside the initramfs
  std::string toolchain;       // recipes that build from source: toolchain_identity()
};

// A SHA-256 hex digest of every input, each field named, so no two different inputs share a key.
std::string build_inputs_key(const BuildInputs& inputs);

// What a kernel compiled from source is made of: the source package (by its verified digest), the
// recipe's build section with its config fragment, the toolchain and the build date. Not
// runcvm-build itself, so a new runcvm-build indexes and packs a kept compiled kernel again
// instead of compiling it again.
std::string compile_inputs_key(const SourceBuild& build, std::string_view source_package_checksum,
                               std::string_view toolchain, std::time_t timestamp);

}  // namespace runcvm::kernels
