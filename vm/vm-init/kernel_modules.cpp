#include "vm/vm-init/kernel_modules.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"
#include "common/text.hpp"

namespace runcvm::vm_init {
namespace {

std::string module_name_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  std::string name(path.substr(slash == std::string_view::npos ? 0 : slash + 1));
  if (std::size_t dot = name.find(".ko"); dot != std::string::npos) name.resize(dot);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace

std::vector<std::string> device_drivers(const handoff::Launch& launch) {
  std::vector<std::string> out;
  if (launch.kernel.source == "image") {
    out.insert(out.end(), {"virtio_console", "virtio_net"});
    if (!launch.disks.empty()) out.push_back("virtio_blk");
  }
  if (launch.display_mode == "vnc") {
    if (launch.qemu.vga == "virtio")
      out.push_back("virtio-gpu");
    else if (launch.qemu.vga == "std")
      out.push_back("bochs");
    else if (launch.qemu.vga == "cirrus")
      out.push_back("cirrus");
  }
  // The panic device's driver (vm_command.cpp), where the kernel has it as a module.
  if (handoff::has_panic_device(launch.qemu)) out.push_back("pvpanic-mmio");
  if (launch.display_mode == "vnc" || launch.qemu.usb) out.push_back("xhci-pci");
  if (launch.display_mode == "vnc") out.insert(out.end(), {"usbhid", "hid-generic"});
  return out;
}

std::vector<std::string> load_order(std::string_view modules_dep, std::string_view name) {
  std::string wanted = module_name_of(name);
  for (const std::string& line : split_nonempty(modules_dep, '\n')) {
    std::size_t colon = line.find(':');
    if (colon == std::string::npos || module_name_of(std::string_view(line).substr(0, colon)) != wanted) continue;
    // modules.dep lists dependencies so that loading them from last to first works.
    std::vector<std::string> order = split_nonempty(std::string_view(line).substr(colon + 1), ' ');
    std::reverse(order.begin(), order.end());
    order.push_back(line.substr(0, colon));
    return order;
  }
  return {};
}

void load_drivers(const std::string& modules_dir, const std::vector<std::string>& names) {
  if (names.empty()) return;
  std::string modules_dep = read_file(modules_dir + "/modules.dep");
  for (const auto& name : names)
    for (const auto& relative : load_order(modules_dep, name)) {
      std::string path = modules_dir + "/" + relative;
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) throw system_error("loading the driver " + name + ": opening", path, errno);
      if (::syscall(SYS_finit_module, fd.get(), "", 0) != 0 && errno != EEXIST)
        throw system_error("loading the driver " + name + " from", path, errno);
    }
}

}  // namespace runcvm::vm_init
