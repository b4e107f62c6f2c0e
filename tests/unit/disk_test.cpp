// ext4 images written with libext2fs (disk/): what e2fsck and the library itself read back,
// including a directory large enough to be hash-indexed, two levels deep.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

extern "C" {  // com_err's header declares C functions without saying so
#include <et/com_err.h>
}
#include <ext2fs/ext2fs.h>
#include <sys/stat.h>

#include <string>

#include "common/process.hpp"
#include "disk/ext4_image.hpp"
#include "support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

namespace {

disk::Metadata with_mode(mode_t mode) {
  disk::Metadata m;
  m.mode = mode;
  m.mtime.tv_sec = 1700000000;
  m.atime = m.ctime = m.mtime;
  return m;
}

void add_text(disk::Ext4Image& image, const std::string& path, const std::string& text) {
  image.add_file(path, with_mode(S_IFREG | 0644), text.size(), [&](const disk::DataWriter& write) {
    if (!text.empty()) write(0, text);
  });
}

// The inode of `path` in the image, and its flags, read with libext2fs.
struct Found {
  ext2_ino_t ino = 0;
  std::uint32_t flags = 0;
  std::uint64_t size = 0;
  int index_levels = -1;  // an indexed directory's dx_root_info.indirect_levels
};
Found look_up(const std::string& image, const std::string& path) {
  ext2_filsys fs = nullptr;
  REQUIRE(ext2fs_open(image.c_str(), 0, 0, 0, unix_io_manager, &fs) == 0);
  Found found;
  if (ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path.c_str(), &found.ino) == 0) {
    ext2_inode inode{};
    REQUIRE(ext2fs_read_inode(fs, found.ino, &inode) == 0);
    found.flags = inode.i_flags;
    found.size = EXT2_I_SIZE(&inode);
    if (inode.i_flags & EXT2_INDEX_FL) {
      blk64_t first = 0;
      REQUIRE(ext2fs_bmap2(fs, found.ino, nullptr, nullptr, 0, 0, nullptr, &first) == 0);
      std::string block(fs->blocksize, '\0');
      REQUIRE(io_channel_read_blk64(fs->io, first, 1, block.data()) == 0);
      found.index_levels = reinterpret_cast<const ext2_dx_root_info*>(block.data() + 24)->indirect_levels;
    }
  }
  ext2fs_close_free(&fs);
  return found;
}

}  // namespace

TEST_CASE("an ext4 image holds what was added and e2fsck finds it clean, hash-indexed directories too", "[disk]") {
  test::ScratchDirectory scratch;
  std::string path = (scratch.path() / "image.ext4").string();
  // 10000 names of 240 bytes, 16 to a leaf block, fill 625 leaves: more than the index root's 507
  // entries, so the directory needs a second index level (index nodes), the rarer layout. The
  // files are empty: no data blocks.
  constexpr int kNames = 10000;
  auto big = [](int i) {
    std::string number = std::to_string(i);
    return "big/" + std::string(234, 'n') + std::string(6 - number.size(), '0') + number;
  };
  {
    disk::ImageOptions options{.size_bytes = 64ull << 20, .label = "test", .expected_entries = kNames + 10};
    disk::Ext4Image image(path, options);
    image.add_directory("etc", with_mode(S_IFDIR | 0755));
    add_text(image, "etc/hostname", "vm\n");
    image.add_symlink("etc/link", with_mode(S_IFLNK | 0777), "hostname");
    image.add_hard_link("etc/again", "etc/hostname");
    image.add_directory("small", with_mode(S_IFDIR | 0700));
    add_text(image, "small/one", "1");
    for (int i = 0; i < kNames; ++i) add_text(image, big(i), "");
    image.finish();
    CHECK(image.stats().files == kNames + 2);
    CHECK(image.stats().hard_links == 1);
  }
  ProcessResult fsck = run_process({"e2fsck", "-fn", path});
  INFO(fsck.standard_output << fsck.standard_error);
  CHECK(fsck.exit_code == 0);

  CHECK(look_up(path, "etc/hostname").size == 3);
  CHECK(look_up(path, "etc/again").ino == look_up(path, "etc/hostname").ino);
  CHECK((look_up(path, "big").flags & EXT2_INDEX_FL) != 0);
  CHECK(look_up(path, "big").index_levels == 1);
  CHECK((look_up(path, "small").flags & EXT2_INDEX_FL) == 0);
  CHECK(look_up(path, big(0)).ino != 0);
  CHECK(look_up(path, big(kNames - 1)).ino != 0);
  CHECK(look_up(path, big(kNames)).ino == 0);
}

TEST_CASE("an ext4 image refuses what it cannot hold, naming it", "[disk]") {
  test::ScratchDirectory scratch;
  std::string path = (scratch.path() / "image.ext4").string();
  disk::ImageOptions options;
  options.size_bytes = 1 << 20;
  CHECK_THROWS_WITH(disk::Ext4Image(path, options), ContainsSubstring("is too small (at least 8M)"));
  options.size_bytes = 16 << 20;
  disk::Ext4Image image(path, options);
  add_text(image, "file", "x");
  CHECK_THROWS_WITH(add_text(image, "file", "y"), ContainsSubstring("\"file\" appears twice"));
  CHECK_THROWS_WITH(add_text(image, "file/below", "y"), ContainsSubstring("is not a directory"));
  add_text(image, std::string(256, 'n'), "long");
  CHECK_THROWS_WITH(image.finish(), ContainsSubstring("name longer than 255 bytes"));
}
