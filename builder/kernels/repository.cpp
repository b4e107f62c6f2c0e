#include "builder/kernels/repository.hpp"

#include "builder/kernels/apk_repository.hpp"
#include "builder/kernels/deb_repository.hpp"
#include "builder/kernels/unpack.hpp"

namespace runcvm::kernels {

std::vector<std::string> fetch_signed_indexes(const Recipe& recipe, fetch::BlobCache& cache, std::time_t now) {
  return recipe.format == RepositoryFormat::deb ? fetch_deb_signed_indexes(recipe, cache, now)
                                                : fetch_apk_signed_indexes(recipe, cache);
}

PackageMap load_package_index(const Recipe& recipe, const std::vector<std::string>& signed_indexes,
                              fetch::BlobCache& cache) {
  return recipe.format == RepositoryFormat::deb ? load_deb_index(recipe, signed_indexes, cache)
                                                : load_apk_index(recipe, signed_indexes);
}

fs::path fetch_package(const Recipe& recipe, const PackageEntry& package, fetch::BlobCache& cache) {
  return recipe.format == RepositoryFormat::deb ? fetch_deb_package(package, cache) : fetch_apk_package(package, cache);
}

void extract_kernel_payload(const Recipe& recipe, const fs::path& package_file, const fs::path& root) {
  if (recipe.format == RepositoryFormat::deb)
    extract_deb(package_file, root, kernel_payload_path);
  else
    extract_apk(package_file, root, kernel_payload_path);
}

}  // namespace runcvm::kernels
