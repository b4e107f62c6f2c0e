#include "builder/disk/disk_command.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "common/error.hpp"
#include "common/file.hpp"
#include "disk/ext4_image.hpp"
#include "disk/populate.hpp"
#include "disk/populate_tar.hpp"

namespace runcvm::builder {

void run_disk(const DiskOptions& options) {
  namespace fs = std::filesystem;
  auto started = std::chrono::steady_clock::now();
  fs::path out = options.out;
  fs::path temporary = temporary_sibling(out);
  auto note = [](const std::string& line) { std::fprintf(stderr, "runcvm-build disk: %s\n", line.c_str()); };
  try {
    struct stat st {};
    if (options.from && *options.from != "-" && ::stat(options.from->c_str(), &st) != 0)
      throw system_error("reading --from", *options.from, errno);
    bool from_directory = options.from && *options.from != "-" && S_ISDIR(st.st_mode);
    // A directory is counted first, for the inode table; a tar is read once, so it gets the default.
    disk::Ext4Image image(temporary.string(),
                          {options.size_bytes, options.label, from_directory ? disk::count_entries(*options.from) : 0});
    if (from_directory)
      disk::populate_from_directory(image, *options.from, note);
    else if (options.from)
      disk::populate_from_tar(image, *options.from, note);
    image.finish();
    const auto& s = image.stats();
    fs::rename(temporary, out);
    struct stat written {};
    ::stat(out.c_str(), &written);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr,
                 "runcvm-build disk: %s: %llu MiB ext4, %llu files (%.1f MiB), %llu directories, %llu symlinks, "
                 "%llu hard links, %llu devices/fifos; %llu inodes; %.1f MiB allocated on disk; %.2f s\n",
                 out.c_str(), static_cast<unsigned long long>(options.size_bytes >> 20),
                 static_cast<unsigned long long>(s.files), static_cast<double>(s.data_bytes) / (1 << 20),
                 static_cast<unsigned long long>(s.directories), static_cast<unsigned long long>(s.symlinks),
                 static_cast<unsigned long long>(s.hard_links), static_cast<unsigned long long>(s.specials),
                 static_cast<unsigned long long>(s.inodes), static_cast<double>(written.st_blocks) * 512 / (1 << 20),
                 seconds);
  } catch (...) {
    remove_tree_quietly(temporary);
    throw;
  }
}

}  // namespace runcvm::builder
