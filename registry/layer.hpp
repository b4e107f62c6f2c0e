// Image layers built deterministically from a directory tree: entries sorted by path, owner
// 0:0, one fixed timestamp, hard links kept, so the same tree always gives the same bytes and
// digests. The uncompressed tar's sha256 is the layer's diff_id; the compressed blob's is its digest.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

#include "common/file.hpp"

struct archive;  // libarchive's writer

namespace runcvm::registry {

enum class Compression { gzip, zstd };

struct Layer {
  std::string media_type;  // application/vnd.oci.image.layer.v1.tar+gzip, …
  std::string digest;      // sha256:<hex> of the blob
  std::uint64_t size = 0;  // of the blob
  std::string diff_id;     // sha256:<hex> of the uncompressed tar
  fs::path blob;           // the compressed file
  fs::path tar;            // the uncompressed file, if kept (docker-archive needs it)
};

// Streams `file` as the data of the archive entry `name` whose header was just written.
void append_file_data(::archive* a, const fs::path& file, const std::string& name);

enum class KeepTar { no, yes };

// Writes `tree` as a layer whose entries sit below `prefix` (e.g. `opt/runcvm`), into `work`.
Layer build_layer(const fs::path& tree, const std::string& prefix, Compression compression, std::time_t timestamp,
                  const fs::path& work, KeepTar keep_tar);

}  // namespace runcvm::registry
