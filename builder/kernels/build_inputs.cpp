#include "builder/kernels/build_inputs.hpp"

#include <nlohmann/json.hpp>

#include "common/digest.hpp"

namespace runcvm::kernels {
namespace {

nlohmann::ordered_json build_section(const SourceBuild& build) {
  return {{"tarball", build.tarball},
          {"base_config", build.base_config},
          {"config_fragment", build.config_fragment},
          {"config_fragment_sha256", sha256_hex(build.config_fragment_text)},
          {"image", build.image}};
}

}  // namespace

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
                                       {"initramfs_compression", to_string(recipe.initramfs_compression)},
                                       {"build", recipe.build ? build_section(*recipe.build) : nullptr}}},
                                     {"signed_indexes", index_digests},
                                     {"initramfs_init", inputs.initramfs_init_sha256},
                                     {"builder", inputs.builder_sha256},
                                     {"timestamp", static_cast<long long>(inputs.timestamp)},
                                     {"toolchain", inputs.toolchain}};
  return sha256_hex(document.dump());
}

std::string compile_inputs_key(const SourceBuild& build, std::string_view source_package_checksum,
                               std::string_view toolchain, std::time_t timestamp) {
  nlohmann::ordered_json document = {{"build", build_section(build)},
                                     {"source_package", source_package_checksum},
                                     {"toolchain", toolchain},
                                     {"timestamp", static_cast<long long>(timestamp)}};
  return sha256_hex(document.dump());
}

}  // namespace runcvm::kernels
