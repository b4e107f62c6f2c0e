// What a registry sends that the client parses: the 401 challenge (WWW-Authenticate), image
// manifests (their digests become file names, their sizes bound downloads), and references as
// users write them; a redirect's Location against a base URL; an OCI layout's index.json (its
// digests become file names too), edited with a tag, and DIR:TAG arguments.
#include "registry/layout_index.hpp"
#include "registry/manifest.hpp"
#include "registry/reference.hpp"
#include "registry/url_policy.hpp"
#include "tests/fuzz/fuzz_target.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    using namespace runcvm::registry;
    Challenge challenge = parse_challenge(input);
    (void)challenge;
    try {
      (void)parse_reference(input);
    } catch (const runcvm::Error&) {
    }
    try {
      std::string location = resolve_location("https://registry.example.org/v2/x/blobs/sha256:0", std::string(input));
      if (!origin_of(location)) std::abort();  // a resolved location is always an absolute URL
    } catch (const runcvm::Error&) {
    }
    try {
      auto entries = parse_index(input, "fuzz");
      for (const auto& entry : entries)
        if (entry.manifest.digest.size() != 71 || entry.manifest.digest.find('/') != std::string::npos) std::abort();
      Descriptor added{"application/vnd.oci.image.manifest.v1+json", "sha256:" + std::string(64, 'a'), 1};
      // An edited index is one parse_index reads back, with the tag on the manifest added.
      auto edited = parse_index(index_with(input, added, "t"), "edited");
      if (select_manifest(edited, std::string("t"), "edited").digest != added.digest) std::abort();
    } catch (const runcvm::Error&) {
    }
    try {
      auto argument = layout_to_read(input, [](const std::filesystem::path& p) { return p.string().size() % 3 == 0; });
      if (argument.tag && !is_valid_ref_name(*argument.tag)) std::abort();
    } catch (const runcvm::Error&) {
    }
    ImageManifest manifest = parse_image_manifest(input, "fuzz");
    for (const auto& layer : manifest.layers)
      if (layer.digest.size() != 71 || layer.digest.find('/') != std::string::npos) std::abort();
  });
}
