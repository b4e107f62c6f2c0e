// What runcvm-build takes from a mirror before anything vouches for it: signed indexes of bounded
// size, package lists of bounded decompressed size, and a cache no other user can plant files in.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <fstream>

#include "builder/fetch/cache.hpp"
#include "builder/kernels/unpack.hpp"
#include "common/error.hpp"
#include "tests/unit/support.hpp"

using Catch::Matchers::ContainsSubstring;
namespace fs = runcvm::fs;

namespace {

const runcvm::fetch::RetryPolicy kOneAttempt{1, std::chrono::milliseconds(1)};

// A sparse file of `size` zero bytes, served to the cache as a mirror's file:// URL.
std::string sparse_file_url(const fs::path& path, std::uintmax_t size) {
  std::ofstream(path).close();
  fs::resize_file(path, size);
  return "file://" + path.string();
}

}  // namespace

TEST_CASE("an index larger than the limit is cut off, and nothing of it is kept", "[fetch][limits]") {
  runcvm::test::ScratchDirectory scratch;
  std::string url = sparse_file_url(scratch.path() / "InRelease", 4096);
  runcvm::fetch::BlobCache small(scratch.path() / "cache", kOneAttempt, nullptr, std::chrono::seconds(0), 1024);
  CHECK_THROWS_WITH(small.fetch_index(url), ContainsSubstring("fetching " + url +
                                                              ": the server sent more than the 1024 bytes "
                                                              "runcvm-build accepts for an index"));
  CHECK(fs::is_empty(scratch.path() / "cache/tmp"));
  CHECK(fs::is_empty(scratch.path() / "cache/indexes"));
  runcvm::fetch::BlobCache roomy(scratch.path() / "cache", kOneAttempt, nullptr, std::chrono::seconds(0), 4096);
  CHECK(fs::file_size(roomy.fetch_index(url)) == 4096);  // at the limit: taken

  // The limit every run uses: 64 MiB, a byte more is refused.
  CHECK(runcvm::fetch::kIndexSizeLimit == 64u << 20);
  std::string huge = sparse_file_url(scratch.path() / "APKINDEX.tar.gz", runcvm::fetch::kIndexSizeLimit + 1);
  runcvm::fetch::BlobCache standard(scratch.path() / "cache", kOneAttempt, nullptr);
  CHECK_THROWS_WITH(standard.fetch_index(huge), ContainsSubstring("more than the 67108864 bytes"));
  CHECK(fs::is_empty(scratch.path() / "cache/tmp"));
}

TEST_CASE("an index that decompresses past the limit fails naming the file and the limit", "[fetch][limits]") {
  std::string packages_gz = runcvm::test::gzip(std::string(3 << 20, 'P'));  // 3 MiB from a few KiB
  const std::string what = "https://mirror/dists/bookworm/main/binary-amd64/Packages.gz";
  try {
    runcvm::kernels::decompress(packages_gz, what, 2 << 20);
    FAIL("expected the limit to hold");
  } catch (const runcvm::Error& e) {
    std::string line = runcvm::format_error_line("runcvm-build", e);
    CHECK_THAT(line, ContainsSubstring(what + ": decompresses to more than 2 MiB (runcvm-build's limit)"));
  }
  CHECK(runcvm::kernels::decompress(packages_gz, what, 3 << 20).size() == 3u << 20);
  CHECK(runcvm::kernels::kIndexDecompressedLimit == 512u << 20);
}

TEST_CASE("without a home, the download cache is a directory of this user's alone", "[fetch][limits]") {
  runcvm::test::ScratchDirectory scratch;
  unsigned uid = ::getuid();
  fs::path cache = runcvm::fetch::private_cache_directory(scratch.path(), uid);
  CHECK(cache == scratch.path() / ("runcvm-cache-" + std::to_string(uid)));
  struct stat status {};
  REQUIRE(::lstat(cache.c_str(), &status) == 0);
  CHECK(S_ISDIR(status.st_mode));
  CHECK((status.st_mode & 07777) == 0700);
  CHECK(runcvm::fetch::private_cache_directory(scratch.path(), uid) == cache);  // found again next run

  // Someone else's directory under that name: refused, whatever its mode.
  CHECK_THROWS_WITH(runcvm::fetch::private_cache_directory(scratch.path(), uid + 1),
                    ContainsSubstring("belongs to another user"));
  fs::permissions(cache, fs::perms::all);
  CHECK_THROWS_WITH(runcvm::fetch::private_cache_directory(scratch.path(), uid),
                    ContainsSubstring("is writable by other users"));
  fs::permissions(cache, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_write);
  CHECK_THROWS_WITH(runcvm::fetch::private_cache_directory(scratch.path(), uid),
                    ContainsSubstring("is writable by other users"));
  fs::remove(cache);
  fs::create_directory(scratch.path() / "elsewhere");
  fs::create_directory_symlink(scratch.path() / "elsewhere", cache);  // a link planted in advance
  CHECK_THROWS_WITH(runcvm::fetch::private_cache_directory(scratch.path(), uid),
                    ContainsSubstring("is not a directory: refusing a cache others could have planted files in"));
}
