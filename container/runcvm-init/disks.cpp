#include "container/runcvm-init/disks.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "common/error.hpp"
#include "common/file.hpp"
#include "container/runcvm-init/notice.hpp"
#include "disk/ext4_image.hpp"
#include "disk/populate.hpp"

namespace runcvm::container_init {

std::vector<std::string> disk_problems(const std::vector<handoff::Disk>& disks,
                                       const std::function<bool(const std::string&)>& exists) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < disks.size(); ++i) {
    const auto& d = disks[i];
    std::string where = "RUNCVM_DISKS: entry " + std::to_string(i + 1) + " " + quote(d.source) + ": ";
    if (exists(d.source)) continue;
    if (!d.size_bytes)
      problems.push_back(where + "the file does not exist and no <size> was given to create it");
    else if (d.filesystem != "ext4")
      problems.push_back(where + "the file does not exist; only ext4 disks can be created (got " + quote(d.filesystem) +
                         ")");
  }
  return problems;
}

void prepare_disks(const std::vector<handoff::Disk>& disks) {
  namespace fs = std::filesystem;
  auto exists = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  };
  auto problems = disk_problems(disks, exists);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw Error(all);
  }
  for (const auto& d : disks) {
    if (exists(d.source)) continue;
    fs::path source = d.source;
    fs::create_directories(source.parent_path());
    fs::path temporary = temporary_sibling(source);
    try {
      struct stat st {};
      bool from_directory = ::stat(d.destination.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      disk::Ext4Image image(temporary.string(),
                            {*d.size_bytes, "", from_directory ? disk::count_entries(d.destination) : 0});
      if (from_directory)
        disk::populate_from_directory(image, d.destination,
                                      [](const std::string& note) { notice("RUNCVM_DISKS: " + note); });
      image.finish();
      fs::rename(temporary, source);
    } catch (const std::exception& e) {
      remove_tree_quietly(temporary);
      throw Error("RUNCVM_DISKS: creating " + quote(d.source) + " from " + quote(d.destination) + ": " + e.what());
    }
  }
}

}  // namespace runcvm::container_init
