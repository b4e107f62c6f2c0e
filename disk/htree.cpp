#include "disk/htree.hpp"

#include <algorithm>
#include <cstring>

#include "common/error.hpp"

namespace runcvm::disk {
namespace {

constexpr unsigned kDirentTailSize = sizeof(ext2_dir_entry_tail);

// Offsets in the index blocks (their layout is drawn above indexed_blocks).
constexpr std::size_t kRootInfoOffset = 24;
constexpr std::size_t kRootEntriesOffset = 32;
constexpr std::size_t kNodeEntriesOffset = 8;

}  // namespace

void check_ext2(errcode_t code, const std::string& what) {
  if (!code) return;
  if (code == EXT2_ET_BLOCK_ALLOC_FAIL || code == EXT2_ET_INODE_ALLOC_FAIL)
    throw Error(what + ": the image is full (give it a larger size)");
  throw Error(what + ": " + error_message(code));
}

PackedEntries pack_entries(ext2_filsys fs, const std::vector<DirectoryEntry>& entries, bool csum) {
  const unsigned block_size = fs->blocksize;
  const unsigned capacity = block_size - (csum ? kDirentTailSize : 0);
  std::string blocks;
  std::vector<std::size_t> firsts;
  std::size_t block_start = 0, used = 0;
  ext2_dir_entry* last = nullptr;
  auto close_block = [&] {
    if (last)
      check_ext2(
          ext2fs_set_rec_len(
              fs, static_cast<unsigned>(block_start + capacity - (reinterpret_cast<char*>(last) - blocks.data())),
              last),
          "packing a directory");
    else
      check_ext2(ext2fs_set_rec_len(fs, capacity, reinterpret_cast<ext2_dir_entry*>(blocks.data() + block_start)),
                 "packing a directory");
    if (csum)
      ext2fs_initialize_dirent_tail(fs, reinterpret_cast<ext2_dir_entry_tail*>(blocks.data() + block_start + capacity));
  };
  auto open_block = [&](std::size_t first) {
    block_start = blocks.size();
    blocks.resize(blocks.size() + block_size, '\0');
    firsts.push_back(first);
    used = 0;
    last = nullptr;
  };
  open_block(0);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const DirectoryEntry& e = entries[i];
    if (e.name.size() > EXT2_NAME_LEN) throw Error("name longer than 255 bytes: " + quote(e.name));
    unsigned length = (8 + static_cast<unsigned>(e.name.size()) + 3) & ~3u;
    if (used + length > capacity) {
      close_block();
      open_block(i);
    }
    auto* dirent = reinterpret_cast<ext2_dir_entry*>(blocks.data() + block_start + used);
    dirent->inode = e.ino;
    check_ext2(ext2fs_set_rec_len(fs, length, dirent), "packing a directory");
    ext2fs_dirent_set_name_len(dirent, static_cast<int>(e.name.size()));
    ext2fs_dirent_set_file_type(dirent, e.file_type);
    std::memcpy(dirent->name, e.name.data(), e.name.size());
    last = dirent;
    used += length;
  }
  close_block();
  return {std::move(blocks), std::move(firsts)};
}

// A directory larger than one block is written hash-indexed (htree), as the kernel would have
// made it. Lookups in the VM then cost a few block reads instead of a scan. Logical blocks:
//
//   block 0, the root:                      blocks 1..n, index nodes (only past one root's worth):
//   0   "."  entry, rec_len 12              0   an empty entry, rec_len = the block (so that a
//   12  ".." entry, rec_len to the end          reader without htree sees an empty block)
//   24  dx_root_info (8 bytes: hash         8   count/limit, then dx_entries
//       version, info length, levels)       ...
//   32  count/limit, then dx_entries        end: dx_tail (checksum) with metadata_csum
//   ...
//   end: dx_tail (checksum) with metadata_csum
//
//   then the leaves: ordinary directory blocks, entries in (hash, minor hash) order.
//
// A dx_entry is {hash, block}: the first names the block for hashes below the second's, so its
// hash field is free and holds the count and limit instead. The kernel's names for the offsets:
// dx_root.info at 24, dx_root.entries at 32, dx_node.entries at 8.
std::string indexed_blocks(ext2_filsys fs, ext2_ino_t ino, ext2_ino_t parent,
                           const std::vector<DirectoryEntry>& entries, bool csum) {
  const unsigned block_size = fs->blocksize;
  int version = fs->super->s_def_hash_version;
  int hash_version = (fs->super->s_flags & EXT2_FLAGS_UNSIGNED_HASH) ? version + 3 : version;
  struct Hashed {
    ext2_dirhash_t hash, minor;
    const DirectoryEntry* entry;
  };
  std::vector<Hashed> hashed;
  hashed.reserve(entries.size());
  for (const auto& e : entries) {
    Hashed h{0, 0, &e};
    check_ext2(ext2fs_dirhash2(hash_version, e.name.data(), static_cast<int>(e.name.size()), nullptr, 0,
                               fs->super->s_hash_seed, &h.hash, &h.minor),
               "hashing a name");
    hashed.push_back(h);
  }
  std::sort(hashed.begin(), hashed.end(),
            [](const Hashed& a, const Hashed& b) { return a.hash != b.hash ? a.hash < b.hash : a.minor < b.minor; });
  std::vector<DirectoryEntry> sorted;
  sorted.reserve(hashed.size());
  for (const auto& h : hashed) sorted.push_back(*h.entry);
  auto [leaves, firsts] = pack_entries(fs, sorted, csum);
  // Each leaf's index entry: the hash of its first name, with the low bit set when that hash
  // continues from the leaf before (names with equal hashes straddling the boundary).
  std::vector<std::uint32_t> leaf_hashes;
  for (std::size_t i = 0; i < firsts.size(); ++i) {
    std::uint32_t hash = hashed[firsts[i]].hash;
    if (i > 0 && hashed[firsts[i] - 1].hash == hash) hash |= 1;
    leaf_hashes.push_back(hash);
  }
  const std::size_t tail = csum ? sizeof(ext2_dx_tail) : 0;
  const std::size_t root_limit = (block_size - kRootEntriesOffset - tail) / sizeof(ext2_dx_entry);
  const std::size_t node_limit = (block_size - kNodeEntriesOffset - tail) / sizeof(ext2_dx_entry);
  std::size_t leaf_count = firsts.size();
  std::size_t nodes = leaf_count <= root_limit ? 0 : (leaf_count + node_limit - 1) / node_limit;
  if (nodes > root_limit) throw Error("too many entries for a two-level directory index");

  // Index entries: the first's hash field holds the count and limit; blocks are logical.
  auto write_index = [](char* at, std::size_t limit,
                        const std::vector<std::pair<std::uint32_t, std::uint32_t>>& index_entries) {
    auto* dx = reinterpret_cast<ext2_dx_entry*>(at);
    auto* countlimit = reinterpret_cast<ext2_dx_countlimit*>(at);
    countlimit->limit = static_cast<__u16>(limit);
    countlimit->count = static_cast<__u16>(index_entries.size());
    dx[0].block = index_entries[0].second;
    for (std::size_t i = 1; i < index_entries.size(); ++i) dx[i] = {index_entries[i].first, index_entries[i].second};
  };
  std::string blocks((1 + nodes) * block_size, '\0');
  auto* dot = reinterpret_cast<ext2_dir_entry*>(blocks.data());
  dot->inode = ino;
  check_ext2(ext2fs_set_rec_len(fs, 12, dot), "indexing a directory");
  ext2fs_dirent_set_name_len(dot, 1);
  ext2fs_dirent_set_file_type(dot, EXT2_FT_DIR);
  dot->name[0] = '.';
  auto* dotdot = reinterpret_cast<ext2_dir_entry*>(blocks.data() + 12);
  dotdot->inode = parent;
  check_ext2(ext2fs_set_rec_len(fs, block_size - 12, dotdot), "indexing a directory");
  ext2fs_dirent_set_name_len(dotdot, 2);
  ext2fs_dirent_set_file_type(dotdot, EXT2_FT_DIR);
  dotdot->name[0] = dotdot->name[1] = '.';
  auto* info = reinterpret_cast<ext2_dx_root_info*>(blocks.data() + kRootInfoOffset);
  info->hash_version = static_cast<__u8>(version);
  info->info_length = 8;
  info->indirect_levels = nodes ? 1 : 0;
  const std::uint32_t first_leaf = static_cast<std::uint32_t>(1 + nodes);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> root_entries;
  if (!nodes) {
    for (std::size_t i = 0; i < leaf_count; ++i)
      root_entries.push_back({leaf_hashes[i], static_cast<std::uint32_t>(first_leaf + i)});
  } else {
    for (std::size_t n = 0; n < nodes; ++n) {
      std::vector<std::pair<std::uint32_t, std::uint32_t>> node_entries;
      for (std::size_t i = n * node_limit; i < std::min(leaf_count, (n + 1) * node_limit); ++i)
        node_entries.push_back({leaf_hashes[i], static_cast<std::uint32_t>(first_leaf + i)});
      char* node = blocks.data() + (1 + n) * block_size;
      auto* fake = reinterpret_cast<ext2_dir_entry*>(node);
      check_ext2(ext2fs_set_rec_len(fs, block_size, fake), "indexing a directory");
      write_index(node + kNodeEntriesOffset, node_limit, node_entries);
      root_entries.push_back({node_entries.front().first, static_cast<std::uint32_t>(1 + n)});
    }
  }
  write_index(blocks.data() + kRootEntriesOffset, root_limit, root_entries);
  return blocks + leaves;
}

}  // namespace runcvm::disk
