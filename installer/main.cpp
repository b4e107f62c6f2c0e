// runcvm-install: the entrypoint of the bundle image. Copies the image's /opt/runcvm onto the
// host and registers the runtime with dockerd:
//   docker run --rm -v /opt/runcvm:/runcvm -v /etc/docker:/etc/docker IMAGE [--uninstall [--purge]]
// Each bundle goes to <host>/versions/<version> and <host>/current points at the newest; the
// runtime bind-mounts its own (resolved) version into each container, so an upgrade never
// changes a file a running VM uses. daemon.json and config.toml keep everything else, and are
// replaced atomically.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/kvm_verdict.hpp"
#include "installer/containerd_config.hpp"

namespace runcvm::install {
namespace {

using Json = nlohmann::ordered_json;

struct Options {
  bool uninstall = false;
  bool purge = false;
  fs::path source = handoff::kBundleMountPoint;        // the bundle in this image
  fs::path target = "/runcvm";                         // the host's install directory, mounted here
  std::string host_path = handoff::kBundleMountPoint;  // what the target is called on the host
  fs::path daemon_json = "/etc/docker/daemon.json";
  bool containerd = false;
  fs::path containerd_config = "/etc/containerd/config.toml";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(std::string(arg) + " expects a value");
      return argv[++i];
    };
    if (arg == "--install")
      o.uninstall = false;
    else if (arg == "--uninstall")
      o.uninstall = true;
    else if (arg == "--purge")
      o.purge = true;
    else if (arg == "--target")
      o.target = value();
    else if (arg == "--host-path")
      o.host_path = value();
    else if (arg == "--daemon-json")
      o.daemon_json = value();
    else if (arg == "--source")
      o.source = value();
    else if (arg == "--containerd")
      o.containerd = true;
    else if (arg == "--containerd-config") {
      o.containerd = true;
      o.containerd_config = value();
    } else
      throw Error("unknown argument " + quote(arg) +
                  ": expected --install, --uninstall [--purge], --target DIR, --host-path DIR, --daemon-json FILE, "
                  "--containerd, --containerd-config FILE");
  }
  if (o.host_path.empty() || o.host_path.front() != '/')
    throw Error("--host-path " + quote(o.host_path) + ": expected an absolute path");
  return o;
}

// An engine's config file (daemon.json, config.toml) replaced by `edit` of its text ("" for an
// absent file); returns whether it changed. Two installers at once take turns (a lock on the
// directory); a file that is a link (to a file managed elsewhere in the same directory) stays a
// link, and its target is rewritten.
bool edit_config_file(const fs::path& path, const std::function<std::string(const std::string&)>& edit) {
  UniqueFd directory(::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory || ::flock(directory.get(), LOCK_EX) != 0)
    throw system_error("locking", path.parent_path().string(), errno);
  // Followed by hand: weakly_canonical would stop at a link whose target does not exist yet.
  fs::path file = path;
  for (int links = 0; fs::is_symlink(file); ++links) {
    fs::path target = fs::read_symlink(file);
    if (links == 40) throw Error(path.string() + ": too many levels of links; nothing was changed");
    file = (target.is_absolute() ? target : file.parent_path() / target).lexically_normal();
  }
  if (file != path) {
    fs::path directory_path = path.parent_path().lexically_normal();
    if (file.parent_path() != directory_path)
      throw Error(path.string() + " links to " + quote(file.string()) + ", outside " + directory_path.string() +
                  ", which is all the installer sees; nothing was changed")
          .with_hint("register the runtime in that file yourself, or make daemon.json a file");
  }
  fs::perms mode = fs::perms(0644);
  std::string text;
  if (fs::exists(file)) {
    text = read_file(file);
    mode = fs::status(file).permissions();
  }
  std::string edited = edit(text);
  if (edited == text) return false;
  write_file_atomic(file, edited, mode);
  return true;
}

// The runtimes entry in daemon.json, changed by `edit`; other keys stay as they were, in order.
// `edit` returns whether it changed anything: if not, the file is left as it is, byte for byte
// (not rewritten in our formatting); returns whether the file changed.
bool edit_daemon_json(const fs::path& path, const std::function<bool(Json&)>& edit) {
  return edit_config_file(path, [&](const std::string& text) {
    Json config = Json::object();
    if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
      try {
        config = Json::parse(text);
      } catch (const Json::exception& e) {
        throw Error(path.string() + ": not valid JSON (" + e.what() + "); nothing was changed");
      }
    }
    if (!config.is_object()) throw Error(path.string() + ": expected a JSON object; nothing was changed");
    if (!edit(config)) return text;
    return config.dump(2) + "\n";
  });
}

std::string host_checks() {
  std::string out;
  // sysfs shows the host's devices even from inside this container.
  // Whether that KVM boots a stock kernel (nested and paravirtualised hosts may not) only a VM
  // shows: the first container after each host boot finds out, and the others remember.
  out += fs::exists("/sys/class/misc/kvm")
             ? std::string(
                   "KVM: available (/dev/kvm); the first VM after each host boot tries it, and where it cannot "
                   "boot the VM, that VM and the later ones run under TCG (the verdict is kept in ") +
                   handoff::kKvmVerdictHostDirectory + ")\n"
             : "KVM: not available: VMs run under TCG emulation (slow)\n";
  out += fs::exists("/sys/class/misc/tun") ? "tun: available (/dev/net/tun)\n"
                                           : "tun: missing: VM networking needs the tun module (modprobe tun)\n";
  std::string rp;
  try {
    rp = read_value_file("/proc/sys/net/ipv4/conf/all/rp_filter");
  } catch (const Error&) {
  }
  if (!rp.empty())
    out += "rp_filter: " + rp + (rp == "1" ? " (strict; runcvm routes the VM's DNS so that it passes)" : "") +
           " (as this installer's network namespace sees it; run with --network host for the host's)\n";
  return out;
}

int install(const Options& o) {
  if (!fs::is_directory(o.target))
    throw Error(o.target.string() + " is not mounted")
        .with_hint("docker run --rm -v /opt/runcvm:/runcvm -v /etc/docker:/etc/docker IMAGE");
  std::string runtime = handoff::BundleLayout{o.host_path + "/current"}.path(handoff::kBundleRuntime);
  if (o.containerd) {
    if (!fs::is_directory(o.containerd_config.parent_path()))
      throw Error("--containerd: " + o.containerd_config.parent_path().string() +
                  " is not mounted; nothing was installed")
          .with_hint("add -v /etc/containerd:/etc/containerd");
    // A config the runtime cannot be added to is refused before any file is copied.
    if (fs::exists(o.containerd_config))
      with_containerd_runtime(read_file(o.containerd_config), runtime, o.containerd_config.string());
  }
  // A copy into itself would never end.
  fs::path from_source = fs::weakly_canonical(o.target).lexically_relative(fs::weakly_canonical(o.source));
  if (from_source == "." || (!from_source.empty() && *from_source.begin() != ".."))
    throw Error("--target " + quote(o.target.string()) + " is inside --source " + quote(o.source.string()) +
                ": expected the host's install directory, apart from the bundle; nothing was installed");
  std::string version = read_value_file(o.source / handoff::kBundleVersionFile);
  if (version.size() < 12) throw Error(o.source.string() + "/" + handoff::kBundleVersionFile + ": unexpected content");
  std::string id = version.substr(0, 12);
  fs::path versions = o.target / "versions";
  fs::create_directories(versions);
  fs::path installed = versions / id;
  if (!fs::exists(installed)) {
    StagingDirectory staging(temporary_sibling(installed));
    fs::copy(o.source, staging.path(), fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    fs::rename(staging.path(), installed);
    staging.release();
  }
  replace_symlink(fs::path("versions") / id, o.target / "current");

  std::string registered;
  if (fs::is_directory(o.daemon_json.parent_path())) {
    edit_daemon_json(o.daemon_json, [&](Json& config) {
      if (!config.contains("runtimes") || !config["runtimes"].is_object()) config["runtimes"] = Json::object();
      // Only the path is ours: the operator's runtimeArgs (--runcvm-debug, …) stay.
      Json& entry = config["runtimes"]["runcvm"];
      if (!entry.is_object()) entry = Json::object();
      entry["path"] = runtime;
      return true;
    });
    registered = "registered in " + o.daemon_json.string() + " as the runtime \"runcvm\" (" + runtime + ")\n";
  } else {
    registered = "not registered: " + o.daemon_json.parent_path().string() +
                 " is not mounted (add -v /etc/docker:/etc/docker), so add to "
                 "daemon.json yourself: \"runtimes\": {\"runcvm\": {\"path\": \"" +
                 runtime + "\"}}\n";
  }
  if (o.containerd) {
    std::string file = o.containerd_config.string();
    bool changed = edit_config_file(
        o.containerd_config, [&](const std::string& text) { return with_containerd_runtime(text, runtime, file); });
    registered += "registered in " + file + " as the CRI runtime \"runcvm\" (RuntimeClass handler runcvm)" +
                  (changed ? "" : ", as it already was") + "; restart containerd to use it\n";
  }
  std::printf(
      "runcvm %s installed in %s/versions/%s (now current)\n%s%s"
      "Reload dockerd to use it: systemctl reload docker (or kill -HUP $(pidof dockerd)); then\n"
      "  docker run --runtime=runcvm --rm -it IMAGE\n",
      id.c_str(), o.host_path.c_str(), id.c_str(), registered.c_str(), host_checks().c_str());
  return 0;
}

int uninstall(const Options& o) {
  // Each engine's file is named in the report only if the runtime was taken out of it.
  std::vector<std::string> changed;
  if (fs::is_directory(o.daemon_json.parent_path()) && fs::exists(o.daemon_json) &&
      edit_daemon_json(o.daemon_json, [](Json& config) {
        auto runtimes = config.find("runtimes");
        if (runtimes == config.end() || !runtimes->is_object() || !runtimes->contains("runcvm")) return false;
        runtimes->erase("runcvm");
        if (runtimes->empty()) config.erase("runtimes");
        return true;
      }))
    changed.push_back(o.daemon_json.string());
  // containerd's config holds the runtime only if an install with --containerd put it there.
  if (fs::exists(o.containerd_config)) {
    std::string file = o.containerd_config.string();
    if (edit_config_file(o.containerd_config,
                         [&](const std::string& text) { return without_containerd_runtime(text, file); }))
      changed.push_back(file);
  }
  std::error_code ec;
  fs::remove(o.target / "current", ec);
  // Versions stay unless asked: containers still running from them bind-mount their files.
  if (o.purge) fs::remove_all(o.target / "versions", ec);
  std::string registrations = changed.empty() ? "no engine's config named it"
                                              : "the runtime is gone from " + changed.front() +
                                                    (changed.size() > 1 ? " and " + changed.back() : "");
  std::printf(
      "runcvm uninstalled: %s%s.%s\n", registrations.c_str(),
      o.purge ? "; its files are gone from the host" : " (versions/ kept for running containers; --purge removes it)",
      changed.empty() ? "" : " Reload the engine: systemctl reload docker (or restart containerd)");
  return 0;
}

}  // namespace
}  // namespace runcvm::install

int main(int argc, char** argv) {
  try {
    auto options = runcvm::install::parse(argc, argv);
    return options.uninstall ? runcvm::install::uninstall(options) : runcvm::install::install(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", runcvm::format_error_line("runcvm-install", e).c_str());
    return 1;
  }
}
