#include "common/digest.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"

namespace runcvm {

struct Hasher::Context {
  EVP_MD_CTX* ctx = nullptr;
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(std::string_view algorithm) : context_(std::make_unique<Context>()) {
  const EVP_MD* md = EVP_get_digestbyname(std::string(algorithm).c_str());
  if (md == nullptr) throw Error("unknown digest algorithm " + quote(algorithm));
  context_->ctx = EVP_MD_CTX_new();
  if (context_->ctx == nullptr || EVP_DigestInit_ex(context_->ctx, md, nullptr) != 1)
    throw Error("initialising digest " + quote(algorithm));
}

Hasher::~Hasher() = default;

void Hasher::update(std::string_view data) { EVP_DigestUpdate(context_->ctx, data.data(), data.size()); }

std::string Hasher::finish_raw() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->ctx, out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

std::string Hasher::finish_hex() { return to_hex(finish_raw()); }

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text, std::string_view what) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0 || text.size() % 4 != 0) throw Error(std::string(what) + ": " + quote(text) + " is not base64");
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string sha256_hex(std::string_view data) {
  Hasher hasher("sha256");
  hasher.update(data);
  return hasher.finish_hex();
}

std::string file_digest_hex(const fs::path& path, std::string_view algorithm) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw system_error("opening", path.string(), errno);
  Hasher hasher(algorithm);
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw system_error("reading", path.string(), err);
    }
    if (n == 0) break;
    hasher.update(std::string_view(buffer, static_cast<size_t>(n)));
  }
  ::close(fd);
  return hasher.finish_hex();
}

}  // namespace runcvm
