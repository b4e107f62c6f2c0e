#include "builder/bundle/bundle_command.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "builder/bundle/closure.hpp"
#include "common/digest.hpp"
#include "common/elf_dependencies.hpp"
#include "common/error.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/kernel_artifact.hpp"
#include "registry/client.hpp"
#include "registry/image_writer.hpp"

namespace runcvm::builder {
namespace {

namespace artifact = handoff::kernel_artifact;

// What QEMU loads for the machines runcvm uses (q35, pc, microvm; -kernel boot; no NIC ROMs), the
// cards of RUNCVM_QEMU_VGA, and the keymap its VNC server reads (-vnc fails without it).
const std::vector<std::string> kFirmware = {
    "bios-256k.bin",      "bios-microvm.bin",  "linuxboot.bin", "linuxboot_dma.bin",  "pvh.bin",
    "kvmvapic.bin",       "multiboot_dma.bin", "qboot.rom",     "vgabios-virtio.bin", "vgabios-stdvga.bin",
    "vgabios-cirrus.bin", "keymaps/en-us"};
// QEMU's loadable modules the bundle carries: TCG, and virtio-vga (RUNCVM_QEMU_VGA=virtio), which
// needs the virtio-gpu module.
const std::vector<std::string> kQemuModules = {"accel-tcg-x86_64.so", "hw-display-virtio-gpu.so",
                                               "hw-display-virtio-vga.so"};

std::uint64_t tree_size(const fs::path& root) {
  std::uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file() && !entry.is_symlink()) total += entry.file_size();
  return total;
}

void install_file(const fs::path& from, const fs::path& to, fs::perms perms) {
  fs::create_directories(to.parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, perms);
}

// A digest of the tree's paths, kinds and contents: the bundle's version, under which the
// installer keeps it on the host (so an upgrade never changes files a running VM uses).
std::string tree_digest(const fs::path& root) {
  Hasher hasher("sha256");
  for (const auto& relative : sorted_tree(root)) {
    fs::path full = root / relative;
    hasher.update(relative.string() + '\0');
    if (fs::is_symlink(full))
      hasher.update("l" + fs::read_symlink(full).string() + '\0');
    else if (fs::is_regular_file(full))
      hasher.update("f" + file_digest_hex(full) + '\0');
    else
      hasher.update("d\0");
  }
  return hasher.finish_hex();
}

std::string mib(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// One line on what went where, by directory.
void report_sizes(const fs::path& tree, const LibraryClosure& closure) {
  auto size_of = [&](std::string_view directory) {
    return std::string(directory) + " " + mib(tree_size(tree / directory));
  };
  std::string line = "runcvm-build bundle: " + size_of(handoff::kBundleProgramDirectory) + " (" +
                     std::to_string(std::size(handoff::kBundlePrograms)) + " static programs), " +
                     size_of(handoff::kBundleHelperDirectory) + " (QEMU, virtiofsd), " +
                     size_of(handoff::kBundleLibraryDirectory) + " (" + std::to_string(closure.libraries.size()) +
                     " libraries and their loader, QEMU's TCG and virtio-vga modules), " +
                     size_of(handoff::kBundleFirmwareDirectory) + " (" + std::to_string(kFirmware.size()) +
                     " firmware files), " + size_of(artifact::kKernelsDirectory) + "; total " + mib(tree_size(tree)) +
                     "\n";
  std::fputs(line.c_str(), stderr);
}

void assemble(const BundleOptions& o, const fs::path& tree) {
  // Our programs, all static (they run in any image).
  for (const char* relative : handoff::kBundlePrograms) {
    fs::path program = o.programs / fs::path(relative).filename();
    if (!fs::is_regular_file(program))
      throw Error("bundle: " + quote(program.string()) + " is missing (build it first)");
    if (!read_elf_dependencies(read_file(program), program.string()).is_static())
      throw Error("bundle: " + quote(program.string()) + " is not static");
    install_file(program, tree / relative, fs::perms(0755));
  }
  fs::path virtiofsd = o.virtiofsd;
  if (virtiofsd.empty())
    for (const char* candidate : {"/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"})
      if (fs::is_regular_file(candidate)) virtiofsd = candidate;
  if (virtiofsd.empty()) throw Error("bundle: virtiofsd not found (apt-get install virtiofsd or qemu-system-common)");
  // The break points' shell runs in the VM from the bundle: a static busybox, like our programs.
  if (!fs::is_regular_file(o.busybox))
    throw Error("bundle: " + quote(o.busybox.string()) + " is missing (apt-get install busybox-static)");
  if (!read_elf_dependencies(read_file(o.busybox), o.busybox.string()).is_static())
    throw Error("bundle: " + quote(o.busybox.string()) + " is not static (apt-get install busybox-static)");
  install_file(o.busybox, tree / handoff::kBundleShell, fs::perms(0755));
  std::vector<fs::path> loaded = {o.qemu, virtiofsd};
  for (const auto& name : kQemuModules) loaded.push_back(o.qemu_modules / name);
  for (const auto& required : loaded)
    if (!fs::is_regular_file(required))
      throw Error("bundle: " + quote(required.string()) + " is missing (apt-get install qemu-system-x86)");
  install_file(o.qemu, tree / handoff::kBundleQemu, fs::perms(0755));
  install_file(virtiofsd, tree / handoff::kBundleVirtiofsd, fs::perms(0755));
  for (const auto& name : kQemuModules)
    install_file(o.qemu_modules / name, tree / handoff::kBundleQemuModuleDirectory / name, fs::perms(0644));

  LibraryClosure closure = library_closure(loaded);
  if (closure.interpreter.empty()) throw Error("bundle: " + o.qemu.string() + " names no program interpreter");
  install_file(closure.interpreter, tree / handoff::kBundleLoader, fs::perms(0755));
  for (const auto& [name, path] : closure.libraries)
    if (fs::path(name).filename() != closure.interpreter.filename())
      install_file(path, tree / handoff::kBundleLibraryDirectory / name, fs::perms(0644));

  for (const auto& name : kFirmware) {
    auto dir = std::find_if(o.firmware_dirs.begin(), o.firmware_dirs.end(),
                            [&](const fs::path& d) { return fs::exists(d / name); });
    if (dir == o.firmware_dirs.end())
      throw Error("bundle: firmware " + quote(name) + " not found (apt-get install qemu-system-x86 seabios)");
    install_file(*dir / name, tree / handoff::kBundleFirmwareDirectory / name, fs::perms(0644));
  }

  fs::path kernels = o.kernels / artifact::kKernelsDirectory;
  if (!fs::is_directory(kernels))
    throw Error("bundle: " + quote(kernels.string()) + " is missing (run runcvm-build kernels --out " +
                o.kernels.string() + ")");
  // Linked, not copied: a kernels --out tree is replaced whole by the next run, never edited.
  link_tree(kernels, tree / artifact::kKernelsDirectory);
  write_file_atomic(tree / handoff::kBundleVersionFile, tree_digest(tree) + "\n");
  report_sizes(tree, closure);
}

}  // namespace

void run_bundle(const BundleOptions& o) {
  if (!o.out && !o.oci_layout && !o.docker_archive && !o.push)
    throw Error("bundle: say where: --out DIR, --oci-layout DIR, --docker-archive FILE or --push REF");
  std::optional<registry::Reference> push_to;
  if (o.push) push_to = registry::parse_reference(*o.push);  // a bad reference fails before any work
  // Only an earlier bundle (it has VERSION) or layout is replaced, never a directory of the user's.
  if (o.out) check_output_replaceable(*o.out, "--out", OutputKind::directory, handoff::kBundleVersionFile);
  if (o.oci_layout) check_output_replaceable(*o.oci_layout, "--oci-layout", OutputKind::directory, "oci-layout");
  if (o.docker_archive) check_output_replaceable(*o.docker_archive, "--docker-archive", OutputKind::file);
  // Staged next to the first output (so the tree can be renamed into place), else in $TMPDIR.
  fs::path anchor = o.out              ? *o.out
                    : o.oci_layout     ? *o.oci_layout
                    : o.docker_archive ? *o.docker_archive
                                       : fs::temp_directory_path() / "runcvm-bundle";
  if (anchor.parent_path().empty()) anchor = "." / anchor;
  StagingDirectory staging(temporary_sibling(anchor));
  const fs::path& work = staging.path();
  fs::path tree = work / "opt-runcvm";
  assemble(o, tree);
  if (o.oci_layout || o.docker_archive || o.push) {
    auto packing = std::chrono::steady_clock::now();
    // The layer's paths are relative to the image's root.
    std::string below_root = std::string(handoff::kBundleMountPoint).substr(1);
    registry::Layer layer = registry::build_layer(tree, below_root, o.compression, o.timestamp, work,
                                                  o.docker_archive ? registry::KeepTar::yes : registry::KeepTar::no);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - packing).count();
    registry::ImageConfig config;
    handoff::BundleLayout in_image;
    config.entrypoint = {in_image.path(handoff::kBundleInstaller)};
    config.env = {"PATH=" + in_image.programs()};
    config.labels = {{"org.opencontainers.image.title", "runcvm"},
                     {"org.runcvm.version", read_file(tree / handoff::kBundleVersionFile).substr(0, 64)}};
    config.created = o.timestamp;
    std::fprintf(stderr, "runcvm-build bundle: layer %s (%s), %s, packed in %.2f s\n", layer.digest.c_str(),
                 layer.media_type.c_str(), mib(layer.size).c_str(), seconds);
    if (o.oci_layout) {
      auto image = registry::write_oci_layout(*o.oci_layout, o.oci_tag, config, layer);
      std::fprintf(stderr, "runcvm-build bundle: OCI layout %s: %s manifest %s\n", o.oci_layout->c_str(),
                   o.oci_tag.c_str(), image.manifest_digest.c_str());
    }
    if (o.push) {
      // Without --oci-layout, through a layout of its own, where the tag is only a name.
      fs::path layout = o.oci_layout ? *o.oci_layout : work / "oci";
      std::string tag = o.oci_layout ? o.oci_tag : "push";
      if (!o.oci_layout) registry::write_oci_layout(layout, tag, config, layer);
      std::string digest = registry::push_oci_layout(layout, tag, *push_to, o.registry);
      std::fprintf(stderr, "runcvm-build bundle: pushed %s@%s\n", o.push->c_str(), digest.c_str());
    }
    if (o.docker_archive) {
      auto image = registry::write_docker_archive(*o.docker_archive, o.reference, config, layer);
      std::fprintf(stderr, "runcvm-build bundle: docker-archive %s: %s image %s\n", o.docker_archive->c_str(),
                   o.reference.c_str(), image.config_digest.c_str());
    }
  }
  if (o.out) {
    remove_tree_quietly(*o.out);
    fs::rename(tree, *o.out);
    std::fprintf(stderr, "runcvm-build bundle: %s\n", o.out->c_str());
  }
}

}  // namespace runcvm::builder
