// `runcvm-build bundle`: the self-contained /opt/runcvm tree — our static programs, QEMU (the
// system emulator, its TCG module and the firmware a q35/microvm VM boots with) and virtiofsd
// with their shared-library closure and their own loader, the kernels — written as a directory,
// an OCI image layout or a docker-archive whose entrypoint installs it on a host.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "registry/client.hpp"
#include "registry/layer.hpp"

namespace runcvm::builder {

struct BundleOptions {
  fs::path kernels;   // a `runcvm-build kernels --out` directory (its kernels/ is taken)
  fs::path programs;  // where our binaries are (next to runcvm-build)
  fs::path qemu = "/usr/bin/qemu-system-x86_64";
  fs::path virtiofsd;  // "": the Debian package's (virtiofsd, or qemu-system-common before trixie)
  fs::path qemu_modules = "/usr/lib/x86_64-linux-gnu/qemu";
  fs::path busybox = "/bin/busybox";  // static: RUNCVM_BREAK's shell in the VM
  std::vector<fs::path> firmware_dirs = {"/usr/share/qemu", "/usr/share/seabios"};
  std::optional<fs::path> out, oci_layout, docker_archive;
  std::string oci_tag = "latest";           // the image's tag in --oci-layout (DIR:TAG, else --tag's TAG)
  std::optional<std::string> push;          // a registry reference: the image goes there too
  std::string reference = "runcvm:latest";  // NAME:TAG of the docker-archive
  registry::Compression compression = registry::Compression::gzip;
  std::time_t timestamp = 0;  // every file's time in the image (SOURCE_DATE_EPOCH)
  registry::ClientOptions registry;
};

void run_bundle(const BundleOptions& options);

}  // namespace runcvm::builder
