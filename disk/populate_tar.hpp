// Filling an ext4 image from a tar stream (any format and compression libarchive reads).
#pragma once

#include <string>

#include "disk/populate.hpp"

namespace runcvm::disk {

// `tar_path` "-" reads standard input. Entry "." or "./" gives the root its metadata.
void populate_from_tar(Ext4Image& image, const std::string& tar_path, const Note& note);

}  // namespace runcvm::disk
