#include "disk/ext4_image.hpp"

extern "C" {  // com_err's header declares C functions without saying so
#include <et/com_err.h>
}
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "common/error.hpp"
#include "disk/htree.hpp"

namespace runcvm::disk {
namespace {

constexpr unsigned kBlockSize = 4096;
constexpr unsigned kInodeSize = 256;
constexpr std::size_t kFlushBytes = 1 << 20;  // file data is written in runs of up to this
constexpr unsigned kLostFoundBlocks = 4;      // room e2fsck can use without allocating

// As many inodes as mke2fs.conf's defaults give an image of this size (its "small" type, below
// 512 MiB, has an inode per 4 KiB; larger ones one per 16 KiB), and at least what is going in
// with a quarter to spare. The inode table may take at most half the blocks.
std::uint64_t inode_count(std::uint64_t blocks, std::uint64_t expected_entries) {
  std::uint64_t bytes = blocks * kBlockSize;
  std::uint64_t bytes_per_inode = bytes < (512ull << 20) ? 4096 : 16384;
  std::uint64_t count = std::max<std::uint64_t>(bytes / bytes_per_inode, 1024);
  if (expected_entries != 0) count = std::max(count, expected_entries + expected_entries / 4 + 16);
  return std::min<std::uint64_t>({count, blocks / 2 * (kBlockSize / kInodeSize), 0xffffffffull});
}

std::uint8_t file_type_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return EXT2_FT_REG_FILE;
    case S_IFDIR:
      return EXT2_FT_DIR;
    case S_IFCHR:
      return EXT2_FT_CHRDEV;
    case S_IFBLK:
      return EXT2_FT_BLKDEV;
    case S_IFIFO:
      return EXT2_FT_FIFO;
    case S_IFLNK:
      return EXT2_FT_SYMLINK;
    default:
      return EXT2_FT_UNKNOWN;
  }
}

unsigned major_of(dev_t device) { return ::gnu_dev_major(device); }
unsigned minor_of(dev_t device) { return ::gnu_dev_minor(device); }

std::pair<std::string, std::string> split_parent(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// ext4 keeps nanoseconds (shifted by 2) and two more bits of seconds (epoch) beside 32-bit seconds.
std::uint32_t extra_time(const timespec& t) {
  auto epoch = static_cast<std::uint32_t>((static_cast<std::int64_t>(t.tv_sec) - INT32_MIN) >> 32) & 3;
  return (static_cast<std::uint32_t>(t.tv_nsec) << 2) | epoch;
}

}  // namespace

struct Ext4Image::Impl {
  using Entry = DirectoryEntry;
  struct Directory {
    ext2_ino_t ino = 0;
    ext2_ino_t parent = 0;
    Metadata metadata;
    std::vector<Entry> entries;
    unsigned subdirectories = 0;
    unsigned minimum_blocks = 1;
  };

  std::string path;
  ext2_filsys fs = nullptr;
  std::map<std::string, Directory> directories;                       // by path
  std::map<std::string, std::pair<ext2_ino_t, std::uint8_t>> others;  // non-directories, for hard links
  blk64_t goal = 0;

  void check(errcode_t code, const std::string& what) const { check_ext2(code, what); }

  ext2_inode_large inode_for(const Metadata& m) const {
    ext2_inode_large inode{};
    inode.i_mode = static_cast<__u16>(m.mode);
    inode.i_uid = static_cast<__u16>(m.uid & 0xffff);
    ext2fs_set_i_uid_high(inode, static_cast<__u16>(m.uid >> 16));
    inode.i_gid = static_cast<__u16>(m.gid & 0xffff);
    ext2fs_set_i_gid_high(inode, static_cast<__u16>(m.gid >> 16));
    inode.i_atime = static_cast<__u32>(m.atime.tv_sec);
    inode.i_mtime = static_cast<__u32>(m.mtime.tv_sec);
    inode.i_ctime = static_cast<__u32>(m.ctime.tv_sec);
    inode.i_crtime = static_cast<__u32>(m.mtime.tv_sec);
    inode.i_extra_isize = sizeof(ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
    inode.i_atime_extra = extra_time(m.atime);
    inode.i_mtime_extra = extra_time(m.mtime);
    inode.i_ctime_extra = extra_time(m.ctime);
    inode.i_crtime_extra = extra_time(m.mtime);
    inode.i_links_count = 1;
    return inode;
  }

  // An extent-mapped inode needs an (empty) extent tree in i_block even when it has no blocks.
  void init_extents(ext2_ino_t ino, ext2_inode_large& inode) {
    inode.i_flags |= EXT4_EXTENTS_FL;
    ext2_extent_handle_t handle = nullptr;
    check(ext2fs_extent_open2(fs, ino, reinterpret_cast<ext2_inode*>(&inode), &handle), "starting an extent tree");
    ext2fs_extent_free(handle);
  }

  void write_inode(ext2_ino_t ino, ext2_inode_large& inode) {
    check(ext2fs_write_inode_full(fs, ino, reinterpret_cast<ext2_inode*>(&inode), sizeof inode), "writing an inode");
  }
  void read_inode(ext2_ino_t ino, ext2_inode_large& inode) {
    check(ext2fs_read_inode_full(fs, ino, reinterpret_cast<ext2_inode*>(&inode), sizeof inode), "reading an inode");
  }

  ext2_ino_t new_inode(ext2_ino_t parent, mode_t mode) {
    ext2_ino_t ino = 0;
    check(ext2fs_new_inode(fs, parent, static_cast<int>(mode), nullptr, &ino), "allocating an inode");
    ext2fs_inode_alloc_stats2(fs, ino, +1, S_ISDIR(mode) ? 1 : 0);
    return ino;
  }

  // Maps logical blocks [first, first + count) of `ino` to newly allocated blocks and writes
  // `data` (count whole blocks) there, in as few runs as the allocation allows.
  void write_blocks(ext2_ino_t ino, blk64_t first, blk64_t count, const char* data, bool directory) {
    check(ext2fs_fallocate(fs, EXT2_FALLOCATE_FORCE_INIT, ino, nullptr, goal, first, count), "allocating blocks");
    ext2_extent_handle_t handle = nullptr;
    check(ext2fs_extent_open(fs, ino, &handle), "reading extents");
    std::unique_ptr<std::remove_pointer_t<ext2_extent_handle_t>, void (*)(ext2_extent_handle_t)> owner(
        handle, ext2fs_extent_free);
    check(ext2fs_extent_goto2(handle, 0, first), "finding an extent");
    blk64_t done = 0;
    while (done < count) {
      ext2fs_extent extent{};
      check(ext2fs_extent_get(handle, EXT2_EXTENT_CURRENT, &extent), "reading an extent");
      blk64_t logical = first + done;
      if (logical < extent.e_lblk || logical >= extent.e_lblk + extent.e_len)
        throw Error("ext4 image " + quote(path) + ": allocated blocks are not where expected");
      blk64_t offset = logical - extent.e_lblk;
      blk64_t run = std::min<blk64_t>(count - done, extent.e_len - offset);
      blk64_t physical = extent.e_pblk + offset;
      const char* bytes = data + done * kBlockSize;
      if (directory) {
        for (blk64_t i = 0; i < run; ++i)
          check(ext2fs_write_dir_block4(fs, physical + i, const_cast<char*>(bytes + i * kBlockSize), 0, ino),
                "writing a directory block");
      } else {
        check(io_channel_write_blk64(fs->io, physical, static_cast<int>(run), bytes), "writing file data");
      }
      done += run;
      goal = physical + run;
      if (done < count && ext2fs_extent_get(handle, EXT2_EXTENT_NEXT_LEAF, &extent) != 0)
        throw Error("ext4 image " + quote(path) + ": allocated blocks end early");
    }
  }

  Directory& directory(const std::string& dir_path) {
    auto it = directories.find(dir_path);
    if (it != directories.end()) return it->second;
    if (others.count(dir_path))
      throw Error("ext4 image: " + quote(dir_path) + " is not a directory but has entries below it");
    auto [parent_path, name] = split_parent(dir_path);
    Directory& parent = directory(parent_path);
    Metadata implied;
    implied.mode = S_IFDIR | 0755;
    implied.atime = implied.mtime = implied.ctime = parent.metadata.mtime;
    Directory created;
    created.ino = new_inode(parent.ino, implied.mode);
    created.parent = parent.ino;
    created.metadata = implied;
    parent.entries.push_back({name, created.ino, EXT2_FT_DIR});
    ++parent.subdirectories;
    return directories.emplace(dir_path, std::move(created)).first->second;
  }

  // A new non-directory name: its parent's entry, and a check that it is new.
  void add_name(const std::string& entry_path, ext2_ino_t ino, std::uint8_t type) {
    if (directories.count(entry_path) || others.count(entry_path))
      throw Error("ext4 image: " + quote(entry_path) + " appears twice");
    auto [parent_path, name] = split_parent(entry_path);
    directory(parent_path).entries.push_back({name, ino, type});
    others.emplace(entry_path, std::pair{ino, type});
  }

  ext2_ino_t parent_ino(const std::string& entry_path) { return directory(split_parent(entry_path).first).ino; }

  void set_xattrs(ext2_ino_t ino, const Metadata& m) {
    if (m.xattrs.empty()) return;
    ext2_xattr_handle* handle = nullptr;
    check(ext2fs_xattrs_open(fs, ino, &handle), "opening extended attributes");
    errcode_t code = ext2fs_xattrs_read(handle);
    for (const auto& [name, value] : m.xattrs) {
      if (code) break;
      code = ext2fs_xattr_set(handle, name.c_str(), value.data(), value.size());
      if (code) {
        ext2fs_xattrs_close(&handle);
        check(code, "setting extended attribute " + quote(name));
      }
    }
    errcode_t closed = ext2fs_xattrs_close(&handle);
    check(code ? code : closed, "writing extended attributes");
  }

  // Writes a directory's blocks: linear when its entries fit one block, else indexed.
  void write_directory(const Directory& d) {
    const bool csum = ext2fs_has_feature_metadata_csum(fs->super);
    std::vector<Entry> entries;
    entries.reserve(d.entries.size() + 2);
    entries.push_back({".", d.ino, EXT2_FT_DIR});
    entries.push_back({"..", d.parent, EXT2_FT_DIR});
    entries.insert(entries.end(), d.entries.begin(), d.entries.end());
    std::string blocks = pack_entries(fs, entries, csum).blocks;
    bool indexed = blocks.size() > kBlockSize && ext2fs_has_feature_dir_index(fs->super);
    if (indexed) blocks = indexed_blocks(fs, d.ino, d.parent, d.entries, csum);
    while (blocks.size() / kBlockSize < d.minimum_blocks)  // empty blocks: one unused entry each
      blocks += pack_entries(fs, {}, csum).blocks;

    ext2_inode_large inode = inode_for(d.metadata);
    init_extents(d.ino, inode);
    if (indexed) inode.i_flags |= EXT2_INDEX_FL;
    unsigned links = 2 + d.subdirectories;
    inode.i_links_count = static_cast<__u16>(links >= EXT2_LINK_MAX ? 1 : links);
    write_inode(d.ino, inode);
    blk64_t count = blocks.size() / kBlockSize;
    write_blocks(d.ino, 0, count, blocks.data(), /*directory=*/true);
    read_inode(d.ino, inode);
    check(ext2fs_inode_size_set(fs, reinterpret_cast<ext2_inode*>(&inode), blocks.size()), "sizing a directory");
    write_inode(d.ino, inode);
    set_xattrs(d.ino, d.metadata);
  }
};

Ext4Image::Ext4Image(const std::string& path, const ImageOptions& options) : impl_(std::make_unique<Impl>()) {
  static std::once_flag tables;
  std::call_once(tables, [] { add_error_table(&et_ext2_error_table); });
  Impl& m = *impl_;
  m.path = path;
  std::uint64_t blocks = options.size_bytes / kBlockSize;
  if (blocks < 2048)
    throw Error("ext4 image: size " + std::to_string(options.size_bytes) + " bytes is too small (at least 8M)");
  if (options.label.size() > EXT2_LABEL_LEN)
    throw Error("ext4 image: label " + quote(options.label) + " is longer than 16 bytes");

  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) throw system_error("creating", path, errno);
  int truncated = ::ftruncate(fd, static_cast<off_t>(blocks * kBlockSize));
  int error = errno;
  ::close(fd);
  if (truncated != 0) throw system_error("sizing", path, error);

  ext2_super_block param{};
  ext2fs_blocks_count_set(&param, blocks);
  param.s_log_block_size = 2;  // 4 KiB
  param.s_rev_level = EXT2_DYNAMIC_REV;
  param.s_inode_size = kInodeSize;
  param.s_inodes_count = static_cast<__u32>(inode_count(blocks, options.expected_entries));
  param.s_log_groups_per_flex = 4;
  param.s_min_extra_isize = param.s_want_extra_isize = sizeof(ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
  ext2fs_set_feature_dir_index(&param);
  ext2fs_set_feature_xattr(&param);
  ext2fs_set_feature_filetype(&param);
  ext2fs_set_feature_extents(&param);
  ext2fs_set_feature_64bit(&param);
  ext2fs_set_feature_flex_bg(&param);
  ext2fs_set_feature_sparse_super(&param);
  ext2fs_set_feature_large_file(&param);
  ext2fs_set_feature_huge_file(&param);
  ext2fs_set_feature_dir_nlink(&param);
  ext2fs_set_feature_extra_isize(&param);
  ext2fs_set_feature_metadata_csum(&param);
  m.check(ext2fs_initialize(path.c_str(), EXT2_FLAG_64BITS | EXT2_FLAG_RW, &param, unix_io_manager, &m.fs),
          "ext4 image: formatting");

  ext2_super_block* sb = m.fs->super;
  if (::getrandom(sb->s_uuid, sizeof sb->s_uuid, 0) != sizeof sb->s_uuid ||
      ::getrandom(sb->s_hash_seed, sizeof sb->s_hash_seed, 0) != sizeof sb->s_hash_seed)
    throw system_error("generating", "a filesystem UUID", errno);
  sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
  sb->s_flags |= EXT2_FLAGS_UNSIGNED_HASH;
  sb->s_checksum_type = EXT2_CRC32C_CHKSUM;
  ext2fs_init_csum_seed(m.fs);
  std::strncpy(reinterpret_cast<char*>(sb->s_volume_name), options.label.c_str(), EXT2_LABEL_LEN);
  sb->s_mkfs_time = sb->s_wtime = static_cast<__u32>(::time(nullptr));
  m.check(ext2fs_allocate_tables(m.fs), "ext4 image: allocating group tables");
  // The file is new and sparse: its inode tables already read as zeros.
  for (dgrp_t group = 0; group < m.fs->group_desc_count; ++group)
    ext2fs_bg_flags_set(m.fs, group, EXT2_BG_INODE_ZEROED);

  // Inodes below the first ordinary one are the filesystem's own (bad blocks, root, journal, …).
  for (ext2_ino_t ino = EXT2_BAD_INO; ino < EXT2_FIRST_INODE(sb); ++ino)
    ext2fs_inode_alloc_stats2(m.fs, ino, +1, ino == EXT2_ROOT_INO ? 1 : 0);
  ext2fs_journal_params journal{};
  m.check(ext2fs_get_journal_params(&journal, m.fs), "ext4 image: sizing the journal");
  m.check(ext2fs_add_journal_inode3(m.fs, &journal, ~0ULL, EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK),
          "ext4 image: creating the journal");

  Impl::Directory root;
  root.ino = root.parent = EXT2_ROOT_INO;
  root.metadata.mode = S_IFDIR | 0755;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  root.metadata.atime = root.metadata.mtime = root.metadata.ctime = now;
  m.directories.emplace("", std::move(root));
  Metadata lost_found = m.directories[""].metadata;
  lost_found.mode = S_IFDIR | 0700;
  add_directory("lost+found", lost_found);
  m.directories["lost+found"].minimum_blocks = kLostFoundBlocks;
  stats_.directories = 0;
}

Ext4Image::~Ext4Image() {
  if (impl_->fs) ext2fs_free(impl_->fs);  // not finished: discard (the caller removes the file)
}

void Ext4Image::add_directory(const std::string& path, const Metadata& metadata) {
  Impl& m = *impl_;
  if (m.others.count(path)) throw Error("ext4 image: " + quote(path) + " appears twice");
  Impl::Directory& d = m.directory(path);
  d.metadata = metadata;
  d.metadata.mode = S_IFDIR | (metadata.mode & 07777);
  ++stats_.directories;
}

void Ext4Image::add_file(const std::string& path, const Metadata& metadata, std::uint64_t size,
                         const DataSource& data) {
  try {
    write_file(path, metadata, size, data);
  } catch (const Error& e) {
    throw Error("ext4 image: " + quote(path) + ": " + e.what());
  }
}

void Ext4Image::write_file(const std::string& path, const Metadata& metadata, std::uint64_t size,
                           const DataSource& data) {
  Impl& m = *impl_;
  ext2_ino_t ino = m.new_inode(m.parent_ino(path), metadata.mode);
  m.add_name(path, ino, EXT2_FT_REG_FILE);
  ext2_inode_large inode = m.inode_for(metadata);
  m.init_extents(ino, inode);
  m.write_inode(ino, inode);

  // Data arrives in pieces of any size; it is gathered into whole blocks and written in runs.
  std::string pending;
  std::uint64_t pending_start = 0;  // block-aligned offset of pending's first byte
  auto flush = [&] {
    if (pending.empty()) return;
    pending.resize((pending.size() + kBlockSize - 1) / kBlockSize * kBlockSize, '\0');
    m.write_blocks(ino, pending_start / kBlockSize, pending.size() / kBlockSize, pending.data(), false);
    pending_start += pending.size();
    pending.clear();
  };
  std::uint64_t written_end = 0;
  data([&](std::uint64_t offset, std::string_view bytes) {
    if (bytes.empty()) return;
    if (offset < written_end) throw Error("ext4 image: data for " + quote(path) + " went backwards");
    std::uint64_t pending_end = pending_start + pending.size();
    // Within the block being gathered (or right after it): zeros fill the gap.
    bool continues = !pending.empty() && offset <= (pending_end + kBlockSize - 1) / kBlockSize * kBlockSize;
    if (!continues) {
      flush();
      pending_start = offset / kBlockSize * kBlockSize;
    }
    pending.resize(offset - pending_start, '\0');
    pending.append(bytes);
    written_end = offset + bytes.size();
    stats_.data_bytes += bytes.size();
    if (pending.size() >= kFlushBytes) {
      std::size_t whole = pending.size() / kBlockSize * kBlockSize;
      std::string rest = pending.substr(whole);
      pending.resize(whole);
      flush();
      pending = std::move(rest);
    }
  });
  flush();
  if (written_end > size) throw Error("ext4 image: " + quote(path) + " has more data than its size");
  m.read_inode(ino, inode);
  m.check(ext2fs_inode_size_set(m.fs, reinterpret_cast<ext2_inode*>(&inode), size), "sizing a file");
  m.write_inode(ino, inode);
  m.set_xattrs(ino, metadata);
  ++stats_.files;
}

void Ext4Image::add_symlink(const std::string& path, const Metadata& metadata, const std::string& target) {
  Impl& m = *impl_;
  if (target.empty() || target.size() >= kBlockSize)
    throw Error("ext4 image: symlink " + quote(path) + " has a target of unsupported length");
  ext2_ino_t ino = m.new_inode(m.parent_ino(path), S_IFLNK | 0777);
  m.add_name(path, ino, EXT2_FT_SYMLINK);
  ext2_inode_large inode = m.inode_for(metadata);
  inode.i_mode = static_cast<__u16>(S_IFLNK | (metadata.mode & 07777));
  if (target.size() < sizeof inode.i_block) {  // a fast symlink: the target lives in the inode
    std::memcpy(inode.i_block, target.data(), target.size());
    inode.i_size = static_cast<__u32>(target.size());
    m.write_inode(ino, inode);
  } else {
    m.init_extents(ino, inode);
    m.write_inode(ino, inode);
    std::string block(kBlockSize, '\0');
    std::memcpy(block.data(), target.data(), target.size());
    m.write_blocks(ino, 0, 1, block.data(), false);
    m.read_inode(ino, inode);
    inode.i_size = static_cast<__u32>(target.size());
    m.write_inode(ino, inode);
  }
  m.set_xattrs(ino, metadata);
  ++stats_.symlinks;
}

void Ext4Image::add_special(const std::string& path, const Metadata& metadata, dev_t rdev) {
  Impl& m = *impl_;
  std::uint8_t type = file_type_of(metadata.mode);
  if (type != EXT2_FT_CHRDEV && type != EXT2_FT_BLKDEV && type != EXT2_FT_FIFO)
    throw Error("ext4 image: " + quote(path) + " is not a device or fifo");
  ext2_ino_t ino = m.new_inode(m.parent_ino(path), metadata.mode);
  m.add_name(path, ino, type);
  ext2_inode_large inode = m.inode_for(metadata);
  if (type != EXT2_FT_FIFO) {
    unsigned major = major_of(rdev), minor = minor_of(rdev);
    // The old 16-bit encoding where it fits (as the kernel writes it), else the new one.
    if (major < 256 && minor < 256)
      inode.i_block[0] = major * 256 + minor;
    else
      inode.i_block[1] = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
  }
  m.write_inode(ino, inode);
  m.set_xattrs(ino, metadata);
  ++stats_.specials;
}

void Ext4Image::add_hard_link(const std::string& path, const std::string& existing_path) {
  Impl& m = *impl_;
  auto it = m.others.find(existing_path);
  if (it == m.others.end())
    throw Error("ext4 image: hard link " + quote(path) + " names " + quote(existing_path) +
                ", which is not an earlier file");
  auto [ino, type] = it->second;
  ext2_inode_large inode{};
  m.read_inode(ino, inode);
  // i_links_count is 16 bits: counting on past ext4's limit would wrap it and free a live inode.
  if (inode.i_links_count >= EXT2_LINK_MAX)
    throw Error("ext4 image: hard link " + quote(path) + ": " + quote(existing_path) + " already has " +
                std::to_string(EXT2_LINK_MAX) + " names, ext4's limit");
  ++inode.i_links_count;
  m.write_inode(ino, inode);
  m.add_name(path, ino, type);
  ++stats_.hard_links;
}

void Ext4Image::finish() {
  Impl& m = *impl_;
  for (const auto& [path, d] : m.directories) {
    try {
      m.write_directory(d);
    } catch (const Error& e) {
      throw Error("ext4 image: directory " + quote(path.empty() ? "/" : path) + ": " + e.what());
    }
  }
  ++stats_.directories;  // the root
  stats_.inodes = m.fs->super->s_inodes_count;
  // Group flags (uninitialised bitmaps and tables) and checksums, as they stand now.
  m.check(ext2fs_set_gdt_csum(m.fs), "checksumming group descriptors");
  m.check(ext2fs_close_free(&m.fs), "ext4 image: writing the filesystem's metadata");
}

}  // namespace runcvm::disk
