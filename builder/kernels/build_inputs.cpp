#include "builder/kernels/build_inputs.hpp"

#include <nlohmann/json.hpp>

#include "common/digest.hpp"

namespace runcvm::kernels {

std::string build_inputs_key(const BuildInputs& inputs) {
  const Recipe& recipe = *inputs.recipe;
  nlohmann::ordered_json sources = nlohmann::json::array();
  for (const auto& source : recipe.sources)
    sources.push_back({{"mirror", source.mirror}, {"suite", source.suite}, {"components", source.components}});
  std::vector<std::string> index_digests;
  for (const auto& text : inputs.signed_indexes) index_digests.push_back(sha256_hex(text));
  // JSON, so that field boundaries cannot be shifted by what a field contains.
  nlohmann::ordered_json document = {{"recipe",
                                      {{"name", recipe.name},
                                       {"dist", recipe.dist},
                                       {"format", to_string(recipe.format)},
                                       {"architecture", recipe.architecture},
                                       {"sources", sources},
                                       {"package", recipe.package},
                                       {"follow", recipe.follow},
                                       {"kernel_image", recipe.kernel_image},
                                       {"initramfs_modules", recipe.initramfs_modules},
                                       {"initramfs_compression", to_string(recipe.initramfs_compression)}}},
                                     {"signed_indexes", index_digests},
                                     {"initramfs_init", inputs.initramfs_init_sha256},
                                     {"builder", inputs.builder_sha256},
                                     {"timestamp", static_cast<long long>(inputs.timestamp)}};
  return sha256_hex(document.dump());
}

}  // namespace runcvm::kernels
