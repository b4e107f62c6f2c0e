// builder/fetch's download cache: what runcvm-build takes from a mirror before anything vouches for
// it (indexes of bounded size, blobs that must match the index), and a cache directory no other
// user can plant files in.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <fstream>

#include "builder/fetch/cache.hpp"
#include "common/digest.hpp"
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

TEST_CASE("the download cache refuses bytes that do not match the index", "[fetch]") {
  runcvm::test::ScratchDirectory scratch;
  runcvm::write_file_atomic(scratch.path() / "pkg.deb", "package bytes");
  std::string url = "file://" + (scratch.path() / "pkg.deb").string();
  runcvm::fetch::BlobCache cache(scratch.path() / "cache", kOneAttempt, nullptr);
  std::string good = runcvm::sha256_hex("package bytes");

  CHECK_THROWS_WITH(cache.fetch_sha256(url, std::string(64, '0'), 13), ContainsSubstring("sha256 mismatch"));
  CHECK_THROWS_WITH(cache.fetch_sha256(url, good, 99), ContainsSubstring("size mismatch"));
  CHECK(fs::is_empty(scratch.path() / "cache/tmp"));
  CHECK_FALSE(fs::exists(scratch.path() / "cache/blobs/sha256" / good));

  fs::path stored = cache.fetch_sha256(url, good, 13);
  CHECK(runcvm::read_file(stored) == "package bytes");
  fs::remove(scratch.path() / "pkg.deb");
  CHECK(cache.fetch_sha256(url, good, 13) == stored);  // served from the cache, no source needed
  CHECK(cache.stats().files_downloaded == 3);          // two refused, one kept
  CHECK(cache.stats().files_from_cache == 1);
}
