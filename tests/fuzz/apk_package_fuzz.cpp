// .apk packages and APKINDEX.tar.gz: gzip member splitting, tar members, checksums.
#include "builder/kernels/apk_repository.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    try {
      runcvm::kernels::split_gzip_members(input, "fuzz.apk");
    } catch (const runcvm::Error&) {
    }
    runcvm::kernels::verify_apk_package(input, "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "fuzz.apk");
  });
}
