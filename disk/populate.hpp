// Filling an ext4 image from a tree: a directory on this machine, or a tar stream (libarchive,
// any compression it reads). Both keep holes, owners, modes, timestamps, xattrs and hard links;
// sockets cannot be stored in a tar or restored from an image meaningfully, so they are skipped
// and reported through `note`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "disk/ext4_image.hpp"

namespace runcvm::disk {

using Note = std::function<void(const std::string&)>;

// The number of entries below `directory`, symlinks not followed: what the image will need inodes
// for (hard links counted once per name, so a little over).
std::uint64_t count_entries(const std::string& directory);

// The directory's own owner, mode and times become the image root's.
void populate_from_directory(Ext4Image& image, const std::string& directory, const Note& note);

}  // namespace runcvm::disk
