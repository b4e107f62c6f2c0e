// ext4 directory blocks as the kernel writes them: entries packed into blocks (each closed with
// its checksum tail), and, for a directory larger than one block, the hash index (htree) in front
// of them. Pure layout over libext2fs's structures and hash; ext4_image.cpp allocates and writes.
#pragma once

extern "C" {  // com_err's header declares C functions without saying so
#include <et/com_err.h>
}
#include <ext2fs/ext2fs.h>

#include <cstdint>
#include <string>
#include <vector>

namespace runcvm::disk {

struct DirectoryEntry {
  std::string name;
  ext2_ino_t ino;
  std::uint8_t file_type;
};

struct PackedEntries {
  std::string blocks;               // whole blocks of `fs`'s block size
  std::vector<std::size_t> firsts;  // for each block, the index of its first entry
};

// Entries packed in order; a new block starts where the next entry does not fit. With `csum`
// (metadata_csum), each block ends with the tail its checksum goes in.
PackedEntries pack_entries(ext2_filsys fs, const std::vector<DirectoryEntry>& entries, bool csum);

// The hash-indexed blocks of directory `ino` (in `parent`) holding `entries` ("." and ".." left
// out: the index root holds them): the root, index nodes when one root's worth of leaves is not
// enough, then the leaves in hash order. Throws beyond a two-level index.
std::string indexed_blocks(ext2_filsys fs, ext2_ino_t ino, ext2_ino_t parent,
                           const std::vector<DirectoryEntry>& entries, bool csum);

// A libext2fs failure as an Error naming `what`; a full image gets a hint to make it larger.
void check_ext2(errcode_t code, const std::string& what);

}  // namespace runcvm::disk
