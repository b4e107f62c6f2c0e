// runcvm-build disk from a hostile tar: any bytes libarchive reads as an archive (names with "..",
// links anywhere, hard links to nothing, huge sizes, odd types) become an ext4 image or a clean
// error, never a crash or a write outside the image.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/file.hpp"
#include "disk/populate_tar.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string directory = [] {
    char name[] = "/tmp/runcvm-tar-fuzz-XXXXXX";
    if (!::mkdtemp(name)) std::abort();
    return std::string(name);
  }();
  std::string tar = directory + "/input.tar", image_path = directory + "/image.ext4";
  runcvm::write_file_atomic(tar, std::string_view(reinterpret_cast<const char*>(data), size));
  runcvm::fuzz::run(data, size, [&](std::string_view) {
    runcvm::disk::Ext4Image image(image_path, {.size_bytes = 16 << 20, .label = "fuzz"});
    runcvm::disk::populate_from_tar(image, tar, [](const std::string&) {});
    image.finish();
  });
  return 0;
}
