// Alpine repositories: APKINDEX.tar.gz (RSA-signed) -> .apk packages, each a concatenation of
// gzip members: signature, control (.PKGINFO) and data. The index's "C:Q1…" value is the SHA1 of
// the control member and .PKGINFO's datahash the SHA256 of the data member, so one verified index
// signature covers every byte that is unpacked.
#include "builder/kernels/apk_repository.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zlib.h>

#include <memory>

#include "builder/kernels/unpack.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"

namespace runcvm::kernels {
namespace {

std::string pkginfo_value(std::string_view pkginfo, std::string_view key) {
  while (!pkginfo.empty()) {
    size_t eol = pkginfo.find('\n');
    std::string_view line = pkginfo.substr(0, eol);
    pkginfo = eol == std::string_view::npos ? std::string_view{} : pkginfo.substr(eol + 1);
    if (line.starts_with(key) && line.substr(key.size()).starts_with(" = "))
      return std::string(line.substr(key.size() + 3));
  }
  return {};
}

std::string apkindex_text(std::string_view archive, const fs::path& keys, std::string_view what) {
  auto members = split_gzip_members(archive, what);
  if (members.size() < 2) throw Error(std::string(what) + ": unsigned index (expected a signature member)");
  verify_apk_signature(members[0], members[1], keys, what);
  auto files = read_tar_members(members[1], what);
  auto it = files.find("APKINDEX");
  if (it == files.end()) throw Error(std::string(what) + ": no APKINDEX file inside");
  return it->second;
}

std::string apk_base_url(const RepositorySource& source, const std::string& repository, const Recipe& recipe) {
  return source.mirror + "/" + source.suite + "/" + repository + "/" + recipe.architecture;
}

}  // namespace

std::vector<std::string_view> split_gzip_members(std::string_view data, std::string_view what) {
  std::vector<std::string_view> members;
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw Error("initialising zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  unsigned char sink[1 << 15];
  size_t start = 0;
  while (start < data.size()) {
    inflateReset(&z);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + start));
    z.avail_in = static_cast<uInt>(data.size() - start);
    int rc;
    do {
      z.next_out = sink;
      z.avail_out = sizeof sink;
      rc = inflate(&z, Z_NO_FLUSH);
    } while (rc == Z_OK);
    if (rc != Z_STREAM_END) throw Error(std::string(what) + ": corrupt gzip data at byte " + std::to_string(start));
    size_t end = data.size() - z.avail_in;
    members.push_back(data.substr(start, end - start));
    start = end;
  }
  return members;
}

std::string verify_apk_signature(std::string_view signature_member, std::string_view signed_member,
                                 const fs::path& key_directory, std::string_view what) {
  auto files = read_tar_members(signature_member, what);
  for (const auto& [name, signature] : files) {
    std::string_view algorithm;
    std::string key_name;
    if (name.starts_with(".SIGN.RSA256.")) {
      algorithm = "sha256";
      key_name = name.substr(13);
    } else if (name.starts_with(".SIGN.RSA.")) {
      algorithm = "sha1";
      key_name = name.substr(10);
    } else {
      continue;
    }
    if (key_name.empty() || key_name.find('/') != std::string::npos) continue;
    fs::path key_path = key_directory / key_name;
    std::error_code ec;
    if (!fs::is_regular_file(key_path, ec))
      throw Error(std::string(what) + ": signed by unknown key " + quote(key_name))
          .with_hint("put its public key in " + key_directory.string());
    std::string pem = read_file(key_path);
    std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
                                                       EVP_PKEY_free);
    if (!key) throw Error(quote(key_path.string()) + " is not a PEM public key");
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const EVP_MD* md = EVP_get_digestbyname(std::string(algorithm).c_str());
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1 ||
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                         reinterpret_cast<const unsigned char*>(signed_member.data()), signed_member.size()) != 1)
      throw Error(std::string(what) + ": bad RSA signature by key " + quote(key_name))
          .with_hint("the file was modified or signed by another key");
    return key_name;
  }
  throw Error(std::string(what) + ": no .SIGN.RSA signature found");
}

void verify_apk_package(std::string_view apk, std::string_view q1_checksum, std::string_view what) {
  auto members = split_gzip_members(apk, what);
  if (members.size() != 3)
    throw Error(std::string(what) + ": expected 3 gzip members (signature, control, data), found " +
                std::to_string(members.size()));
  Hasher sha1("sha1");
  sha1.update(members[1]);
  std::string expected = base64_decode(q1_checksum.substr(2), what);
  if (sha1.finish_raw() != expected)
    throw Error(std::string(what) + ": control checksum does not match the signed index")
        .with_hint("the mirror may be syncing or the file was tampered with");
  auto control = read_tar_members(members[1], what);
  std::string datahash = pkginfo_value(control[".PKGINFO"], "datahash");
  if (datahash.empty()) throw Error(std::string(what) + ": .PKGINFO has no datahash");
  if (sha256_hex(members[2]) != datahash)
    throw Error(std::string(what) + ": data does not match the datahash in .PKGINFO");
}

std::vector<std::string> fetch_apk_signed_indexes(const Recipe& recipe, fetch::BlobCache& cache) {
  std::vector<std::string> indexes;
  for (const auto& source : recipe.sources) {
    for (const auto& repository : source.components) {
      std::string base = apk_base_url(source, repository, recipe);
      in_context("reading the index of " + base, [&] {
        fs::path index = cache.fetch_index(base + "/APKINDEX.tar.gz");
        indexes.push_back(apkindex_text(read_file(index), recipe.keyring, "APKINDEX.tar.gz"));
      });
    }
  }
  return indexes;
}

PackageMap load_apk_index(const Recipe& recipe, const std::vector<std::string>& indexes) {
  PackageMap packages;
  std::size_t next = 0;
  for (const auto& source : recipe.sources) {
    for (const auto& repository : source.components) {
      std::string base = apk_base_url(source, repository, recipe);
      in_context("reading the index of " + base,
                 [&] { merge_newest(packages, parse_apkindex(indexes.at(next++), base)); });
    }
  }
  return packages;
}

fs::path fetch_apk_package(const PackageEntry& package, fetch::BlobCache& cache) {
  std::string url = package.base_url + "/" + package.filename;
  std::string key = "apk/" + to_hex(base64_decode(package.checksum.substr(2), url));
  return cache.fetch_verified(url, key, package.size, [&](const fs::path& file) {
    verify_apk_package(read_file(file), package.checksum, package.filename);
  });
}

void extract_apk(const fs::path& file, const fs::path& root, const PathFilter& filter) {
  std::string apk = read_file(file);
  auto members = split_gzip_members(apk, file.filename().string());
  if (members.size() != 3) throw Error(file.string() + ": not an .apk package");
  extract_tar(members[2], root, filter, file.filename().string());
}

}  // namespace runcvm::kernels
