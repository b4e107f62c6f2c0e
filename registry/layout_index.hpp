// An OCI image layout's index.json as runcvm reads and edits it — the manifests it holds and the
// tag each is known by — and the DIR[:TAG] argument that names a layout and one of its images.
// The tag is the descriptor's `org.opencontainers.image.ref.name` annotation, as skopeo and umoci
// write it (`skopeo copy … oci:DIR:TAG`, `umoci tag`), so `umoci ls`, `umoci unpack --image
// DIR:TAG` and `skopeo … oci:DIR:TAG` address what runcvm-build writes. Pure functions.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/manifest.hpp"
#include "registry/reference.hpp"

namespace runcvm::registry {

inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

// A tag runcvm writes: one component of the OCI ref.name grammar (image-spec annotations.md:
// letters and digits separated by one of `-._@+` or by `--`). The grammar's `:` and `/` are
// left out: `:` separates DIR from TAG on the command line and `/` would read as a path; neither
// can occur in a registry's tag, a pull's default.
bool is_valid_tag(std::string_view tag);
// A tag runcvm reads: the whole OCI ref.name grammar (components joined by `/`, `:` a separator),
// so images that skopeo or an older runcvm-build (`runcvm:latest`) tagged stay addressable.
bool is_valid_ref_name(std::string_view name);
inline constexpr std::string_view kTagRule =
    "letters and digits separated by single '.', '_', '-', '@', '+' or by '--', like 1.0 or v2-rc1";

struct LayoutArgument {
  std::filesystem::path dir;
  std::optional<std::string> tag;  // nullopt: none given ("DIR"); "": "DIR:" (refused by the checks)
};
// DIR or DIR:TAG. A path may itself hold ':', so `exists` (whether a path names something, a fact
// the caller gathers) decides: the whole text when it exists, else the longest prefix before a ':'
// that exists (an existing layout, and a tag that may hold ':'), else the text split at its last
// ':' (a new layout: a path with ':' is written by giving the tag, DIR:TAG, or by making the
// directory first). Throws Error when nothing names a directory (":TAG", "").
LayoutArgument parse_layout_argument(std::string_view text,
                                     const std::function<bool(const std::filesystem::path&)>& exists);

// The argument of a command that writes a layout (its tag must pass is_valid_tag) or reads one
// (is_valid_ref_name). Throws Error naming the argument, the bad tag and the rule.
LayoutArgument layout_to_write(std::string_view text, const std::function<bool(const std::filesystem::path&)>& exists);
LayoutArgument layout_to_read(std::string_view text, const std::function<bool(const std::filesystem::path&)>& exists);

// The tag a pull gives the image in the layout: the one named (DIR:TAG), else the reference's own;
// "" (untagged, as skopeo leaves it) for a reference pinned by digest alone. Throws Error when the
// reference's tag is not one a layout can hold.
std::string pull_tag(const Reference& reference, const std::optional<std::string>& named);

struct IndexEntry {
  Descriptor manifest;
  std::string tag;  // "" when untagged
};
// index.json as any tool wrote it: every manifest descriptor, its digest checked (it becomes a
// file name) and its size a whole number. Throws Error naming `where` and the bad field.
std::vector<IndexEntry> parse_index(std::string_view text, std::string_view where);

// The manifest `tag` names; with no tag, the layout's only one. Throws Error naming `where` and
// the tags the layout has.
Descriptor select_manifest(const std::vector<IndexEntry>& entries, const std::optional<std::string>& tag,
                           std::string_view where);

// The tags of `entries`, quoted and comma-separated, for messages: `"1", "2"` (and how many are untagged).
std::string describe_tags(const std::vector<IndexEntry>& entries);

// index.json (`index_text`; "" for a new layout) with `manifest` known as `tag`: the tag moves to
// it from any other manifest (that descriptor goes, as with `umoci tag`), keeping its place; an
// untagged descriptor of the same manifest is taken over. With `tag` "", the manifest is added
// untagged unless the index has it already. Every other field and descriptor stays as it was.
// `index_text` is one parse_index accepted.
std::string index_with(std::string_view index_text, const Descriptor& manifest, std::string_view tag);

// The blobs that only manifests dropped between index `before` and index `after` used (their own
// manifest, config and layers), to be removed once `after` is in place. `blobs_of` lists a
// manifest's blobs, or nullopt when it cannot tell (an image index, a foreign or missing
// manifest): then nothing the unknown manifest might use is released.
std::vector<std::string> unreferenced_blobs(
    const std::vector<IndexEntry>& before, const std::vector<IndexEntry>& after,
    const std::function<std::optional<std::vector<std::string>>(const std::string& digest)>& blobs_of);

}  // namespace runcvm::registry
