#include "registry/layout_writer.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/error.hpp"
#include "registry/client.hpp"
#include "registry/layout_index.hpp"

namespace runcvm::registry {
namespace {

// Manifests are small (registries cap them at 4 MiB): a larger "manifest" is not read whole.
constexpr std::uintmax_t kMaxManifestSize = 4 << 20;

// "out/" and "out" are one layout: the staging directory must be the layout's sibling.
fs::path without_trailing_slash(const fs::path& path) {
  fs::path normal = path.lexically_normal();
  return normal.has_filename() || !normal.has_parent_path() ? normal : normal.parent_path();
}

bool is_layout(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(dir / "oci-layout", ec)) && !ec;
}

// Writers of one layout take turns: the read, edit and replacement of index.json is one step.
UniqueFd lock_layout(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::flock(fd.get(), LOCK_EX) != 0) throw system_error("locking", dir.string(), errno);
  return fd;
}

bool holds(const fs::path& file, std::uint64_t size) {
  std::error_code ec;
  auto status = fs::symlink_status(file, ec);
  return !ec && fs::is_regular_file(status) && fs::file_size(file, ec) == size && !ec;
}

std::string read_index(const fs::path& layout, std::vector<IndexEntry>& entries) {
  fs::path index = layout / "index.json";
  std::string text = read_file(index);
  entries = parse_index(text, index.string());
  return text;
}

// The config and layers a manifest of the layout names, or nullopt when it is not an image
// manifest runcvm can read (an image index, a foreign type, a missing blob).
std::optional<std::vector<std::string>> blobs_of(const fs::path& blobs, const std::string& digest) {
  try {
    fs::path file = blobs / blob_file_name(digest, "index.json");
    std::error_code ec;
    if (fs::file_size(file, ec) > kMaxManifestSize || ec) return std::nullopt;
    ImageManifest manifest = parse_image_manifest(read_file(file), file.string());
    std::vector<std::string> used = {manifest.config.digest};
    for (const auto& layer : manifest.layers) used.push_back(layer.digest);
    return used;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The staging directory beside `layout`, once the layout is known to be one runcvm may write.
fs::path staging_beside(const fs::path& layout, std::string_view option) {
  check_output_replaceable(layout, option, OutputKind::directory, "oci-layout");
  return temporary_sibling(layout);
}

void write_new_layout(const fs::path& work, const Descriptor& manifest, std::string_view tag) {
  write_file_atomic(work / "oci-layout", nlohmann::json{{"imageLayoutVersion", "1.0.0"}}.dump());
  write_file_atomic(work / "index.json", index_with("", manifest, tag));
}

}  // namespace

LayoutWriter::LayoutWriter(const fs::path& layout, std::string_view option)
    : layout_(without_trailing_slash(layout)), option_(option), staging_(staging_beside(layout_, option)) {
  make_directories(staging_.path() / "blobs" / "sha256");
  if (is_layout(layout_)) {
    lock_ = lock_layout(layout_);
    std::vector<IndexEntry> entries;
    in_context(option_ + " " + quote(layout_.string()), [&] { read_index(layout_, entries); });
  }
}

bool LayoutWriter::has_blob(const Descriptor& blob) const {
  return lock_ && holds(layout_ / "blobs" / "sha256" / blob_file_name(blob.digest, layout_.string()), blob.size);
}

fs::path LayoutWriter::staged_blob(std::string_view digest) const {
  return staging_.path() / "blobs" / "sha256" / blob_file_name(digest, layout_.string());
}

void LayoutWriter::commit(const Descriptor& manifest, std::string_view tag) {
  if (!lock_ && is_layout(layout_)) lock_ = lock_layout(layout_);  // another writer made it meanwhile
  if (!lock_) {
    write_new_layout(staging_.path(), manifest, tag);
    std::error_code ec;
    fs::remove(layout_, ec);  // an empty directory, which check_output_replaceable vouched for
    fs::rename(staging_.path(), layout_);
    staging_.release();
    return;
  }
  std::vector<IndexEntry> before;
  std::string old_index =
      in_context(option_ + " " + quote(layout_.string()), [&] { return read_index(layout_, before); });
  fs::path blobs = layout_ / "blobs" / "sha256";
  make_directories(blobs);
  std::vector<fs::path> added;
  std::string new_index;
  try {
    for (const auto& staged : fs::directory_iterator(staging_.path() / "blobs" / "sha256")) {
      fs::path target = blobs / staged.path().filename();
      if (holds(target, staged.file_size())) continue;
      fs::rename(staged.path(), target);
      added.push_back(target);
    }
    if (!holds(blobs / blob_file_name(manifest.digest, "the manifest"), manifest.size))
      throw Error(option_ + " " + quote(layout_.string()) + ": the manifest " + manifest.digest + " is missing");
    new_index = index_with(old_index, manifest, tag);
    write_file_atomic(layout_ / "index.json", new_index);
  } catch (...) {
    for (const auto& file : added) remove_tree_quietly(file);
    throw;
  }
  std::vector<IndexEntry> after = parse_index(new_index, "the new index.json");
  for (const auto& digest :
       unreferenced_blobs(before, after, [&](const std::string& d) { return blobs_of(blobs, d); })) {
    std::error_code ec;
    fs::remove(blobs / blob_file_name(digest, "index.json"), ec);
  }
}

}  // namespace runcvm::registry
