// File helpers that turn OS failures into runcvm::Error with the path and the action, and that
// never leave a half-written output behind: writers use a temporary name and rename it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path);
// A file that holds one value (sysfs, procfs, VERSION): its text without trailing whitespace.
std::string read_value_file(const fs::path& path);
// A file as "device:inode:size:mtime_ns", following links; nullopt when it cannot be read. A file
// replaced or rewritten (a new bundle, a rebuilt kernel) has another.
std::optional<std::string> file_identity(const fs::path& path);
// Writes `content` to a temporary sibling of `path`, fsyncs it and renames it into place.
void write_file_atomic(const fs::path& path, std::string_view content, fs::perms mode = fs::perms(0644));
void make_directories(const fs::path& path);
// Every path below `root`, relative to it and sorted, so what is built from a tree (an archive,
// a digest) does not depend on the filesystem's order.
std::vector<fs::path> sorted_tree(const fs::path& root);
// A sibling name for staging, unique within this process and across processes.
fs::path temporary_sibling(const fs::path& path);
// Best effort: used on error paths, where the original error is the one worth reporting.
void remove_tree_quietly(const fs::path& path) noexcept;
// A new tree `to` with the directories, symlinks and files of `from`, files hard-linked where the
// two share a filesystem and copied where not: for trees that are replaced whole, never edited.
void link_tree(const fs::path& from, const fs::path& to);
// What an output option may replace: nothing yet, an empty directory, or an earlier output of the
// same kind, which `kind_marker` (a file every such output holds, e.g. "oci-layout") identifies.
// Anything else — the user's home, `/`, a directory of other files, a file where a directory
// belongs — is refused with Error naming `option`, before any work starts.
enum class OutputKind { directory, file };
void check_output_replaceable(const fs::path& path, std::string_view option, OutputKind kind,
                              std::string_view kind_marker = {});
// Points `link` at `target` atomically (a temporary link renamed over the old one).
void replace_symlink(const fs::path& target, const fs::path& link);

// A directory removed on destruction unless release() was called: the staging area of a build.
class StagingDirectory {
 public:
  explicit StagingDirectory(fs::path path);
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;
  ~StagingDirectory();

  const fs::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  fs::path path_;
  bool released_ = false;
};

// Writes a file in pieces through a temporary name; commit() renames it into place, and a writer
// destroyed without commit() removes its temporary file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(fs::path path, fs::perms mode = fs::perms(0644));
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void write(std::string_view data);
  void commit();

 private:
  fs::path path_;
  fs::path temporary_;
  int fd_ = -1;
};

}  // namespace runcvm
