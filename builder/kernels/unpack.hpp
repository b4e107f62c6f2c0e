// Reading packages and compressed indexes with libarchive: .deb (ar + data.tar.*), tar streams,
// and single compressed files (xz, gzip, zstd) such as Packages.xz or module.ko.xz.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/file.hpp"

namespace runcvm::kernels {

// Maps a path inside a package ("./lib/modules/…") to where it goes below the extraction root,
// or nullopt to skip it.
using PathFilter = std::function<std::optional<std::string>(std::string_view)>;

// What an index (Packages, APKINDEX) or a kernel module may decompress to: Debian's largest
// Packages, main for amd64, is under 100 MiB, the largest module a few tens; a few hundred KiB of
// xz or gzip can expand to gigabytes, so the output is bounded.
inline constexpr std::uint64_t kIndexDecompressedLimit = 512ull << 20;
inline constexpr std::uint64_t kModuleDecompressedLimit = 512ull << 20;

// The single compressed file `data`, at most `limit` bytes of it: more is an error naming `what`
// and the limit, raised as soon as the output passes it.
std::string decompress(std::string_view data, std::string_view what, std::uint64_t limit);

void extract_deb(const fs::path& deb, const fs::path& root, const PathFilter& filter);
// A (possibly compressed) tar held in memory.
void extract_tar(std::string_view data, const fs::path& root, const PathFilter& filter, std::string_view what);
// A (possibly compressed) tar file, read as it is extracted.
void extract_tar_file(const fs::path& tar, const fs::path& root, const PathFilter& filter);
// Small members of a tar held in memory, by name (for signatures, package metadata and
// APKINDEX), together at most kIndexDecompressedLimit bytes.
std::map<std::string, std::string> read_tar_members(std::string_view data, std::string_view what);

// Keeps what a kernel artifact needs: boot/* and the module tree (merged-/usr paths folded).
std::optional<std::string> kernel_payload_path(std::string_view path);

}  // namespace runcvm::kernels
