// The repositories' signatures: Debian's InRelease (gpgv against the keyring), Alpine's signed
// APKINDEX and packages (checksums and datahash), and gzip streams split where each member ends.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <memory>

#include "builder/kernels/apk_repository.hpp"
#include "builder/kernels/deb_repository.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm::kernels;
using Catch::Matchers::ContainsSubstring;
namespace fs = runcvm::fs;

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)>;

KeyPtr rsa_key() { return KeyPtr(EVP_RSA_gen(2048), EVP_PKEY_free); }

std::string public_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string sign(EVP_PKEY* key, const char* digest, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_get_digestbyname(digest), nullptr, key) == 1);
  size_t size = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()), data.size()) ==
          1);
  std::string out(size, '\0');
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &size,
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
  out.resize(size);
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

TEST_CASE("gzip members are split where each stream ends", "[signatures]") {
  std::string a = runcvm::test::gzip("first"), b = runcvm::test::gzip(std::string(100000, 'x'));
  std::string joined = a + b;
  auto members = split_gzip_members(joined, "pkg.apk");
  REQUIRE(members.size() == 2);
  CHECK(members[0] == a);
  CHECK(members[1] == b);
  std::string corrupt = a + "garbage";
  CHECK_THROWS_WITH(split_gzip_members(corrupt, "pkg.apk"), ContainsSubstring("pkg.apk: corrupt gzip data at byte"));
}

TEST_CASE("APK signatures are checked with the named key", "[signatures]") {
  runcvm::test::ScratchDirectory keys;
  KeyPtr key = rsa_key(), other = rsa_key();
  runcvm::write_file_atomic(keys.path() / "builder.rsa.pub", public_pem(key.get()));
  std::string control = runcvm::test::gzip(runcvm::test::tar({{"APKINDEX", "P:linux-virt\n"}}));

  for (const auto& algorithm : {std::pair{"sha256", ".SIGN.RSA256."}, std::pair{"sha1", ".SIGN.RSA."}}) {
    const char* digest = algorithm.first;
    std::string prefix = algorithm.second;
    INFO(prefix);
    auto signature_member = [&](EVP_PKEY* k, const std::string& name) {
      return runcvm::test::gzip(runcvm::test::tar({{prefix + name, sign(k, digest, control)}}, false));
    };
    CHECK(verify_apk_signature(signature_member(key.get(), "builder.rsa.pub"), control, keys.path(), "APKINDEX") ==
          "builder.rsa.pub");
    CHECK_THROWS_WITH(verify_apk_signature(signature_member(other.get(), "builder.rsa.pub"), control, keys.path(), "X"),
                      ContainsSubstring("X: bad RSA signature by key \"builder.rsa.pub\""));
    std::string tampered = control;
    tampered[tampered.size() - 5] ^= 1;
    CHECK_THROWS_WITH(verify_apk_signature(signature_member(key.get(), "builder.rsa.pub"), tampered, keys.path(), "X"),
                      ContainsSubstring("bad RSA signature"));
    CHECK_THROWS_WITH(verify_apk_signature(signature_member(key.get(), "stranger.rsa.pub"), control, keys.path(), "X"),
                      ContainsSubstring("signed by unknown key \"stranger.rsa.pub\""));
  }
  CHECK_THROWS_WITH(
      verify_apk_signature(runcvm::test::gzip(runcvm::test::tar({{"README", "x"}}, false)), control, keys.path(), "X"),
      ContainsSubstring("no .SIGN.RSA signature"));
}

TEST_CASE("APK packages are checked against the index checksum and their datahash", "[signatures]") {
  std::string data = runcvm::test::gzip(runcvm::test::tar({{"boot/vmlinuz-virt", "kernel"}}));
  std::string control = runcvm::test::gzip(
      runcvm::test::tar({{".PKGINFO", "pkgname = linux-virt\ndatahash = " + runcvm::sha256_hex(data) + "\n"}}, false));
  std::string signature = runcvm::test::gzip(runcvm::test::tar({{".SIGN.RSA.k.rsa.pub", "x"}}, false));
  runcvm::Hasher sha1("sha1");
  sha1.update(control);
  std::string q1 = "Q1" + base64(sha1.finish_raw());

  CHECK_NOTHROW(verify_apk_package(signature + control + data, q1, "linux-virt.apk"));
  CHECK_THROWS_WITH(verify_apk_package(signature + control + data, "Q1" + base64(std::string(20, 'x')), "p.apk"),
                    ContainsSubstring("p.apk: control checksum does not match the signed index"));
  std::string other_data = runcvm::test::gzip(runcvm::test::tar({{"boot/vmlinuz-virt", "evil"}}));
  CHECK_THROWS_WITH(verify_apk_package(signature + control + other_data, q1, "p.apk"),
                    ContainsSubstring("data does not match the datahash"));
  CHECK_THROWS_WITH(verify_apk_package(control + data, q1, "p.apk"), ContainsSubstring("expected 3 gzip members"));
}

TEST_CASE("InRelease signatures are checked with gpgv against the keyring", "[signatures]") {
  runcvm::test::ScratchDirectory home;
  auto gpg = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"gpg", "--homedir", home.path().string(), "--batch", "--quiet", "--pinentry-mode",
                               "loopback", "--passphrase", ""});
    auto result = runcvm::run_process(args);
    INFO(result.standard_error);
    REQUIRE(result.exit_code == 0);
    return result.standard_output;
  };
  gpg({"--quick-gen-key", "Test Archive <archive@example.test>", "ed25519", "sign", "never"});
  gpg({"--quick-gen-key", "Stranger <stranger@example.test>", "ed25519", "sign", "never"});
  fs::path keyring = home.path() / "archive.gpg";
  runcvm::write_file_atomic(keyring, gpg({"--export", "archive@example.test"}));
  runcvm::write_file_atomic(home.path() / "Release", "Suite: test\nCodename: test\n");
  gpg({"--local-user", "archive@example.test", "--clearsign", "--output", (home.path() / "InRelease").string(),
       (home.path() / "Release").string()});
  gpg({"--local-user", "stranger@example.test", "--clearsign", "--output", (home.path() / "Stranger").string(),
       (home.path() / "Release").string()});

  CHECK(verify_clearsigned(home.path() / "InRelease", keyring) == "Suite: test\nCodename: test\n");
  CHECK_THROWS_WITH(verify_clearsigned(home.path() / "Stranger", keyring),
                    ContainsSubstring("OpenPGP signature check failed"));
  std::string tampered = runcvm::read_file(home.path() / "InRelease");
  tampered.replace(tampered.find("Codename: test"), 14, "Codename: evil");
  runcvm::write_file_atomic(home.path() / "Tampered", tampered);
  CHECK_THROWS_WITH(verify_clearsigned(home.path() / "Tampered", keyring), ContainsSubstring("BAD signature"));
  CHECK_THROWS_WITH(verify_clearsigned(home.path() / "InRelease", home.path() / "missing.gpg"),
                    ContainsSubstring("keyring \"" + (home.path() / "missing.gpg").string() + "\" does not exist"));
}
