// Streaming message digests (OpenSSL EVP) for verifying downloads and content addressing.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/file.hpp"

namespace runcvm {

class Hasher {
 public:
  // `algorithm` is an OpenSSL digest name: "sha256", "sha1", "sha512".
  explicit Hasher(std::string_view algorithm);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(std::string_view data);
  std::string finish_raw();  // binary digest
  std::string finish_hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string to_hex(std::string_view bytes);
// Standard base64 with padding (OpenSSL's block coder). Decoding names `what` in its error.
std::string base64_encode(std::string_view bytes);
std::string base64_decode(std::string_view text, std::string_view what);
std::string sha256_hex(std::string_view data);
std::string file_digest_hex(const fs::path& path, std::string_view algorithm = "sha256");

}  // namespace runcvm
