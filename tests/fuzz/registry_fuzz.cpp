// What a registry sends that the client parses: the 401 challenge (WWW-Authenticate), image
// manifests (their digests become file names, their sizes bound downloads), and references as
// users write them; a redirect's Location against a base URL.
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
    ImageManifest manifest = parse_image_manifest(input, "fuzz");
    for (const auto& layer : manifest.layers)
      if (layer.digest.size() != 71 || layer.digest.find('/') != std::string::npos) std::abort();
  });
}
