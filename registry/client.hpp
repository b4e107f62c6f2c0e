// An OCI distribution (registry) client on libcurl: blob existence checks, monolithic and
// chunked uploads (resumed from the registry's recorded offset when a chunk fails), cross-
// repository mounts, manifest push and pull, Bearer and Basic authentication from the 401
// challenge, retries with back-off on what a retry can cure, and digest verification of every
// pulled byte. Plain HTTP only for loopback registries (tests, local mirrors).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "registry/reference.hpp"

namespace runcvm::registry {

struct Credentials {
  std::string user;
  std::string password;
};

struct ClientOptions {
  std::optional<Credentials> credentials;
  // Hosts besides the registry's own that may receive the credentials as its token service
  // (url_policy.hpp: require_credentials_allowed_to_realm).
  std::vector<std::string> trusted_token_hosts;
  std::size_t chunk_size = 0;  // 0: one PUT per blob; else PATCH chunks of this size
  std::string mount_from;      // a repository of the same registry to mount blobs from
  int attempts = 4;
  std::chrono::milliseconds first_delay{200};  // doubled after each failed attempt
};

class Client {
 public:
  Client(Reference reference, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool blob_exists(const std::string& digest);
  // Uploads `file` as blob `digest`, unless the registry has it; with `mount_from` (another
  // repository of the same registry) it asks for a cross-repository mount first.
  void push_blob(const fs::path& file, const std::string& digest, const std::string& mount_from = "");
  // Returns the manifest's digest as the registry computed it (checked against ours).
  std::string push_manifest(const std::string& manifest, const std::string& media_type, const std::string& tag);
  // The manifest (by the reference's tag or digest); when pinned by digest, its bytes are verified.
  std::string pull_manifest(std::string& media_type, std::string& digest);
  // Streams blob `digest` into `destination` (under a temporary name until its digest checks out),
  // following redirects, and cut off past `declared_size`, the size its descriptor states.
  void pull_blob(const std::string& digest, const fs::path& destination, std::uint64_t declared_size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A blob's file name in an OCI layout: the digest's hex, once it is known to be "sha256:" and 64
// lower-case hex digits. A manifest (a registry's, or a layout's) could name anything else,
// "sha256:../../etc/x" included, and the name becomes a path. Throws Error naming `where`.
std::string blob_file_name(std::string_view digest, std::string_view where);

// Pushes the image of an OCI layout tagged `tag` (none: the layout's only image) to `reference`;
// returns the manifest digest.
std::string push_oci_layout(const fs::path& layout, const std::optional<std::string>& tag, const Reference& reference,
                            const ClientOptions& options);
// Pulls `reference` into the OCI layout at `layout` (created, or added to) as `tag` ("": untagged),
// verifying every digest; returns the manifest digest.
std::string pull_to_oci_layout(const Reference& reference, const fs::path& layout, std::string_view tag,
                               const ClientOptions& options);

}  // namespace runcvm::registry
