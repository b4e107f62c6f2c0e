// A kernel recipe: which repository and package give a kernel, how it is verified, and which
// modules its initramfs loads. Our own format, so parsing is strict: unknown keys are errors and
// every violation is reported at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::kernels {

enum class RepositoryFormat { deb, apk };
enum class Compression { zstd, gzip };

struct RepositorySource {
  std::string mirror;                   // base URL, e.g. http://deb.debian.org/debian
  std::string suite;                    // deb: suite (bookworm); apk: branch (v3.20)
  std::vector<std::string> components;  // deb: components (main); apk: repositories (main)
};

// A kernel compiled from the source package instead of taken prebuilt: the source tarball inside
// the package, the make target giving the base config, and a config fragment applied on top.
struct SourceBuild {
  std::string tarball;               // glob inside the package, e.g. usr/src/linux-source-*.tar.xz
  std::string base_config;           // a make target ending in "config", e.g. defconfig
  std::string config_fragment;       // file name, beside the recipe file
  std::string config_fragment_text;  // its content, read by the command (parse_recipe reads no files)
  std::string image;                 // the built image in the source tree, e.g. arch/x86/boot/bzImage
};

struct Recipe {
  std::string name;  // the recipe file's stem, e.g. debian-bookworm
  std::string dist;  // installs under kernels/<dist>/
  RepositoryFormat format = RepositoryFormat::deb;
  std::string architecture;  // the repository's name for it: amd64 (deb), x86_64 (apk)
  std::vector<RepositorySource> sources;
  std::string keyring;              // deb: OpenPGP keyring file; apk: directory of *.rsa.pub keys
  std::string package;              // the package to start from (often a metapackage)
  std::vector<std::string> follow;  // globs: dependencies of `package` that are fetched too
  std::string kernel_image;         // glob inside the package tree, e.g. boot/vmlinuz-*
  std::vector<std::string> initramfs_modules;
  Compression initramfs_compression = Compression::zstd;
  std::optional<SourceBuild> build;  // set: `package` is a kernel source package to compile
};

// `name` is used for messages and Recipe::name; `json_text` is the file's content.
Recipe parse_recipe(std::string_view json_text, std::string_view name);

std::string_view to_string(RepositoryFormat format);
std::string_view to_string(Compression compression);

}  // namespace runcvm::kernels
