#include "builder/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "builder/bundle/bundle_command.hpp"
#include "builder/disk/disk_command.hpp"
#include "builder/fetch/cache.hpp"
#include "builder/kernels/kernels_command.hpp"
#include "common/elf_dependencies.hpp"
#include "common/error.hpp"
#include "common/size.hpp"
#include "common/text.hpp"
#include "registry/client.hpp"
#include "registry/layout_index.hpp"

#ifndef RUNCVM_SOURCE_RECIPES_DIR
#define RUNCVM_SOURCE_RECIPES_DIR ""
#endif

namespace runcvm::builder {
namespace {

constexpr std::string_view kUsage =
    R"(usage: runcvm-build kernels --recipe NAME|FILE|all [--recipe …] --out DIR [options]

Fetches distro kernels, verifies them against the distro's signed indexes, and installs
DIR/kernels/<dist>/<version>/{vmlinuz,initrd,config,modules/,kernel.json} and DIR/kernels/<dist>/latest.

options:
  --recipe NAME|FILE|all   a recipe name from the recipes directory, a recipe file, or all of them
  --out DIR                where kernels/ is installed (created if missing)
  --cache DIR              download cache (default: $XDG_CACHE_HOME/runcvm, ~/.cache/runcvm, or
                           without either a directory of this user's: $TMPDIR/runcvm-cache-UID, 0700)
  --recipes-dir DIR        where recipe names are looked up
  --mirror URL             use this mirror for every source of every recipe (local mirrors, proxies)
  --keyring PATH           use this keyring (deb: OpenPGP keyring file; apk: key directory)
  --initramfs-init FILE    the static init for the initramfs (default: runcvm-initramfs-init beside this program)
  --retries N              attempts per download on transient errors (default 4)
  --index-max-age SECONDS  reuse signed indexes fetched less than this long ago (default 3600; 0: always refresh)
  --jobs N                 parallel downloads (default 4)
  --timings                print the time of each pass
)";

fs::path program_directory() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path(".") : self.parent_path();
}

fs::path default_cache() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "runcvm";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "runcvm";
  // No home (a service, a CI step): a directory of this user's alone, never a shared name in /tmp.
  return fetch::private_cache_directory(fs::temp_directory_path(), ::getuid());
}

fs::path default_recipes_dir() {
  // In the bundle (/opt/runcvm/bin/runcvm-build) recipes live in /opt/runcvm/share/kernel-recipes.
  fs::path installed = program_directory() / ".." / "share" / "kernel-recipes";
  std::error_code ec;
  if (fs::is_directory(installed, ec)) return installed;
  return RUNCVM_SOURCE_RECIPES_DIR;
}

unsigned parse_count(std::string_view option, std::string_view value, unsigned low = 1, unsigned high = 64) {
  unsigned n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || ptr != value.data() + value.size() || n < low || n > high)
    throw Error(std::string(option) + ": " + quote(value) + " is not a whole number from " + std::to_string(low) +
                " to " + std::to_string(high));
  return n;
}

std::vector<fs::path> recipes_in(const fs::path& dir) {
  std::vector<fs::path> recipes;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".json") recipes.push_back(entry.path());
  std::sort(recipes.begin(), recipes.end());
  return recipes;
}

std::vector<fs::path> resolve_recipes(const std::vector<std::string>& names, const fs::path& dir) {
  std::vector<fs::path> out;
  auto add = [&](const fs::path& recipe) {
    if (std::find(out.begin(), out.end(), recipe) == out.end()) out.push_back(recipe);
  };
  for (const auto& name : names) {
    std::error_code ec;
    if (name == "all") {
      auto all = recipes_in(dir);
      if (all.empty())
        throw Error("--recipe all: no recipes in " + quote(dir.string())).with_hint("pass --recipes-dir");
      for (const auto& recipe : all) add(recipe);
    } else if (fs::is_regular_file(name, ec)) {
      add(name);
    } else if (fs::path candidate = dir / (name + ".json"); fs::is_regular_file(candidate, ec)) {
      add(candidate);
    } else {
      std::string known;
      for (const auto& recipe : recipes_in(dir)) known += (known.empty() ? "" : ", ") + recipe.stem().string();
      throw Error("--recipe: " + quote(name) + " is neither a recipe file nor a recipe in " + quote(dir.string()))
          .with_hint(known.empty() ? "pass --recipes-dir" : "known recipes: " + known);
    }
  }
  return out;
}

void check_static_init(const fs::path& init) {
  std::error_code ec;
  if (!fs::is_regular_file(init, ec))
    throw Error("--initramfs-init: " + quote(init.string()) + " does not exist")
        .with_hint("build the runcvm-initramfs-init target or pass its path");
  // The initramfs has no loader and no libraries, so a dynamic init could never start.
  if (!read_elf_dependencies(read_file(init), init.string()).is_static())
    throw Error("--initramfs-init: " + quote(init.string()) +
                " is dynamically linked; the initramfs needs a static program");
}

int run_kernels_command(std::span<char*> args) {
  kernels::KernelsOptions options;
  std::vector<std::string> recipe_names;
  fs::path recipes_dir = default_recipes_dir();
  options.initramfs_init = program_directory() / "runcvm-initramfs-init";
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw Error(std::string(arg) + ": expects a value");
      return args[++i];
    };
    if (arg == "--recipe")
      recipe_names.push_back(value());
    else if (arg == "--out")
      options.out = value();
    else if (arg == "--cache")
      options.cache = value();
    else if (arg == "--recipes-dir")
      recipes_dir = value();
    else if (arg == "--mirror")
      options.mirror = value();
    else if (arg == "--keyring")
      options.keyring = value();
    else if (arg == "--initramfs-init")
      options.initramfs_init = value();
    else if (arg == "--retries")
      options.retry.attempts = static_cast<int>(parse_count(arg, value()));
    else if (arg == "--index-max-age")
      options.index_max_age = std::chrono::seconds(parse_count(arg, value(), 0, 604800));
    else if (arg == "--jobs")
      options.jobs = parse_count(arg, value());
    else if (arg == "--timings")
      options.timings = true;
    else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      throw Error("kernels: unknown option " + quote(arg)).with_hint("see runcvm-build kernels --help");
    }
  }
  if (recipe_names.empty()) throw Error("kernels: --recipe is required").with_hint("e.g. --recipe debian-bookworm");
  if (options.out.empty()) throw Error("kernels: --out is required");
  if (options.cache.empty()) options.cache = default_cache();
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    long long value = 0;
    auto [ptr, ec] = std::from_chars(epoch, epoch + std::strlen(epoch), value);
    if (ec != std::errc() || *ptr != '\0' || value < 0)
      throw Error("SOURCE_DATE_EPOCH: " + quote(epoch) + " is not a number of seconds");
    options.timestamp = static_cast<std::time_t>(value);
  }
  options.recipes = resolve_recipes(recipe_names, recipes_dir);
  check_static_init(options.initramfs_init);
  kernels::run_kernels(options);
  return 0;
}

constexpr std::string_view kDiskUsage =
    R"(usage: runcvm-build disk --size SIZE [--from DIR|TAR|-] [--label LABEL] OUT.img

Writes an ext4 filesystem image (sparse) without root, loop devices or mounts, optionally filled
from a directory or a tar stream (any compression; - reads stdin), keeping owners, modes,
timestamps, xattrs, hard links, device nodes and holes. Sockets are skipped with a note.

  --size SIZE     image size: 512M, 1G, … (at least 8M)
  --from SOURCE   a directory, a tar file, or - for a tar on stdin
  --label LABEL   filesystem label (at most 16 bytes)
)";

int run_disk_command(std::span<char*> args) {
  DiskOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw Error("disk: " + std::string(arg) + " expects a value");
      return args[++i];
    };
    if (arg == "--size") {
      std::string text = value();
      auto bytes = parse_size(text);
      if (!bytes || *bytes < (8u << 20))
        throw Error("disk: --size " + quote(text) + ": expected a size of at least 8M, like 512M or 2G");
      options.size_bytes = *bytes;
    } else if (arg == "--from") {
      options.from = value();
    } else if (arg == "--label") {
      options.label = value();
      if (options.label.size() > 16) throw Error("disk: --label " + quote(options.label) + ": at most 16 bytes");
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kDiskUsage;
      return 0;
    } else if (!arg.starts_with("-") && options.out.empty()) {
      options.out = arg;
    } else {
      throw Error("disk: unexpected argument " + quote(arg)).with_hint("see runcvm-build disk --help");
    }
  }
  if (options.size_bytes == 0) throw Error("disk: --size is required").with_hint("e.g. --size 1G");
  if (options.out.empty())
    throw Error("disk: the output image path is required").with_hint("runcvm-build disk --size 1G OUT.img");
  run_disk(options);
  return 0;
}

// Whether a path names anything: the fact DIR:TAG is split by (registry/layout_index.hpp).
bool path_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec)) && !ec;
}

registry::ClientOptions registry_options() {
  registry::ClientOptions options;
  const char* user = std::getenv("RUNCVM_REGISTRY_USER");
  const char* password = std::getenv("RUNCVM_REGISTRY_PASSWORD");
  if (user && *user) options.credentials = registry::Credentials{user, password ? password : ""};
  if (const char* from = std::getenv("RUNCVM_REGISTRY_MOUNT_FROM")) options.mount_from = from;
  if (const char* hosts = std::getenv("RUNCVM_REGISTRY_TOKEN_HOSTS"))
    for (std::string host : split_nonempty(hosts, ',')) {
      std::erase(host, ' ');
      if (!host.empty()) options.trusted_token_hosts.push_back(host);
    }
  if (const char* chunk = std::getenv("RUNCVM_REGISTRY_CHUNK")) {
    auto bytes = parse_size(chunk);
    if (!bytes) throw Error("RUNCVM_REGISTRY_CHUNK: " + quote(chunk) + ": expected a size like 4M");
    options.chunk_size = *bytes;
  }
  return options;
}

constexpr std::string_view kBundleUsage =
    R"(usage: runcvm-build bundle --kernels DIR [--out DIR] [--oci-layout DIR[:TAG]] [--docker-archive FILE] [options]

Assembles the self-contained /opt/runcvm tree: runcvm's static programs, QEMU and virtiofsd from
this machine's Debian packages with their shared-library closure and loader, the firmware QEMU
boots with, and the kernels from a `runcvm-build kernels --out DIR` directory. Writes it as a
directory, an OCI image layout and/or a docker-archive (for `docker load`) whose entrypoint
installs the bundle: docker run --rm -v /opt/runcvm:/runcvm -v /etc/docker:/etc/docker IMAGE

  --kernels DIR          where `runcvm-build kernels --out` put kernels/
  --out DIR              the tree itself
  --oci-layout DIR[:TAG] an OCI image layout, created or added to; the image is tagged TAG there
                         (default: --tag's TAG), as `skopeo copy oci:DIR:TAG` and `umoci` address it
  --docker-archive FILE  a tarball for `docker load`
  --push HOST[:PORT]/NAME:TAG  push the image to a registry (credentials: RUNCVM_REGISTRY_USER,
                         RUNCVM_REGISTRY_PASSWORD, sent to a token service on another host than
                         the registry's only if RUNCVM_REGISTRY_TOKEN_HOSTS=HOST[,HOST] names it;
                         RUNCVM_REGISTRY_CHUNK=SIZE uploads in chunks)
  --tag NAME:TAG         the image's reference in the docker-archive (default runcvm:latest)
  --compression gzip|zstd  the layer's compression (default gzip)
  --qemu PATH, --virtiofsd PATH  the programs to take (default: Debian's)
SOURCE_DATE_EPOCH sets the files' time in the image (default 0): the same inputs give the same digest.
)";

int run_bundle_command(std::span<char*> args) {
  BundleOptions options;
  options.programs = program_directory();
  std::optional<registry::LayoutArgument> oci_layout;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw Error("bundle: " + std::string(arg) + " expects a value");
      return args[++i];
    };
    if (arg == "--kernels")
      options.kernels = value();
    else if (arg == "--out")
      options.out = value();
    else if (arg == "--oci-layout") {
      std::string text = value();
      oci_layout = in_context("bundle: --oci-layout", [&] { return registry::layout_to_write(text, path_exists); });
    } else if (arg == "--docker-archive")
      options.docker_archive = value();
    else if (arg == "--push")
      options.push = value();
    else if (arg == "--tag")
      options.reference = value();
    else if (arg == "--qemu")
      options.qemu = value();
    else if (arg == "--virtiofsd")
      options.virtiofsd = value();
    else if (arg == "--compression") {
      std::string c = value();
      if (c == "gzip")
        options.compression = registry::Compression::gzip;
      else if (c == "zstd")
        options.compression = registry::Compression::zstd;
      else
        throw Error("bundle: --compression " + quote(c) + ": expected gzip or zstd");
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kBundleUsage;
      return 0;
    } else {
      throw Error("bundle: unknown option " + quote(arg)).with_hint("see runcvm-build bundle --help");
    }
  }
  if (options.kernels.empty())
    throw Error("bundle: --kernels DIR is required")
        .with_hint("runcvm-build kernels --recipe debian-bookworm --out DIR first");
  if (options.reference.find(':') == std::string::npos || options.reference.front() == ':')
    throw Error("bundle: --tag " + quote(options.reference) + ": expected NAME:TAG");
  options.oci_tag = options.reference.substr(options.reference.rfind(':') + 1);
  if (oci_layout) {
    options.oci_layout = oci_layout->dir;
    if (oci_layout->tag) options.oci_tag = *oci_layout->tag;
  }
  if (options.oci_layout && !registry::is_valid_tag(options.oci_tag))
    throw Error("bundle: --tag " + quote(options.reference) + ": " + quote(options.oci_tag) +
                " cannot tag an image in an OCI layout (expected " + std::string(registry::kTagRule) + ")")
        .with_hint("or give the layout's tag: --oci-layout DIR:TAG");
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
    long long seconds = 0;
    auto [ptr, ec] = std::from_chars(epoch, epoch + std::strlen(epoch), seconds);
    if (ec != std::errc() || *ptr != '\0' || seconds < 0)
      throw Error("SOURCE_DATE_EPOCH: " + quote(epoch) + " is not a number of seconds");
    options.timestamp = static_cast<std::time_t>(seconds);
  }
  options.registry = registry_options();
  run_bundle(options);
  return 0;
}

// runcvm-build push DIR[:TAG] REF / runcvm-build pull REF DIR[:TAG]
int run_push_pull_command(std::string_view command, std::span<char*> args) {
  if (args.size() != 2)
    throw Error(std::string(command) + ": expected " +
                (command == "push" ? "DIR[:TAG] HOST[:PORT]/NAME[:TAG]" : "HOST[:PORT]/NAME[:TAG|@DIGEST] DIR[:TAG]"))
        .with_hint("credentials come from RUNCVM_REGISTRY_USER and RUNCVM_REGISTRY_PASSWORD");
  std::string digest;
  if (command == "push") {
    registry::LayoutArgument layout =
        in_context("push", [&] { return registry::layout_to_read(args[0], path_exists); });
    registry::Reference reference = registry::parse_reference(args[1]);
    digest = in_context(
        "push", [&] { return registry::push_oci_layout(layout.dir, layout.tag, reference, registry_options()); });
  } else {
    registry::Reference reference = registry::parse_reference(args[0]);
    registry::LayoutArgument layout =
        in_context("pull", [&] { return registry::layout_to_write(args[1], path_exists); });
    std::string tag = in_context("pull", [&] { return registry::pull_tag(reference, layout.tag); });
    digest = registry::pull_to_oci_layout(reference, layout.dir, tag, registry_options());
  }
  std::cout << digest << "\n";
  return 0;
}

}  // namespace

int run_command_line(std::span<char*> args) {
  if (args.size() < 2 || std::string_view(args[1]) == "--help" || std::string_view(args[1]) == "-h") {
    std::cout << "usage: runcvm-build <command> [options]\n\ncommands:\n  kernels   fetch and package distro kernels\n "
                 " disk      write an ext4 disk image\n  bundle    assemble /opt/runcvm as a directory, OCI layout or "
                 "docker-archive\n  push      push an OCI layout's image to a registry\n  pull      pull an image from "
                 "a registry into an OCI layout\n";
    return args.size() < 2 ? 2 : 0;
  }
  std::string_view command = args[1];
  if (command == "kernels") return run_kernels_command(args.subspan(2));
  if (command == "disk") return run_disk_command(args.subspan(2));
  if (command == "bundle") return run_bundle_command(args.subspan(2));
  if (command == "push" || command == "pull") return run_push_pull_command(command, args.subspan(2));
  throw Error("unknown command " + quote(command) + " (known: kernels, disk, bundle, push, pull)");
}

}  // namespace runcvm::builder
