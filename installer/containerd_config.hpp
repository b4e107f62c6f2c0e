// runcvm as a runtime of containerd's CRI plugin, which a Kubernetes RuntimeClass with handler
// "runcvm" names: the text of containerd's config.toml with the runtime added or taken away.
// Pure functions of the file's text, so every shape of file an operator may have is unit-tested;
// main.cpp reads and replaces the file.
//
// The operator's file stays as it was, comments included: what runcvm-install adds is one block
// between two marker lines at the end of the file, which a later install replaces and --uninstall
// removes. Only a version 2 (containerd 1.x) or version 3 (containerd 2.x) file is changed.
#pragma once

#include <string>
#include <string_view>

namespace runcvm::install {

inline constexpr std::string_view kContainerdRuntimeName = "runcvm";
inline constexpr std::string_view kContainerdBlockBegin =
    "# runcvm-install: begin (written by runcvm-install, removed by runcvm-install --uninstall)";
inline constexpr std::string_view kContainerdBlockEnd = "# runcvm-install: end";

// `text` with the runtime "runcvm" registered (runc.v2 shim, BinaryName `runtime_path`), and the
// default runtime ("runc" or default_runtime_name) beside it when the file names no runtimes of
// its own: a config that names runtimes must name the default one, or the CRI plugin does not
// load. An empty `text` is an absent file. Throws Error naming `file_name` when the file is not
// valid TOML, is not version 2 or 3, or defines "runcvm" itself outside the block.
std::string with_containerd_runtime(std::string_view text, const std::string& runtime_path,
                                    const std::string& file_name);

// `text` without runcvm-install's block (unchanged when there is none).
std::string without_containerd_runtime(std::string_view text, const std::string& file_name);

}  // namespace runcvm::install
