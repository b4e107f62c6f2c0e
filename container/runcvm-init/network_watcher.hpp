// Live network changes: `docker network connect` and `disconnect` while the VM runs. Docker
// moves a new interface into the container's namespace (or takes one away); runcvm-init sees it
// through rtnetlink's notifications, wires the new one to a tap and bridge as at start, has QEMU
// hot-plug a virtio-net card on it (QMP), and tells the VM's agent its name, addresses and routes.
// An interface taken away loses its card (a hot-plugged one) or its addresses (one the VM booted
// with, whose card sits on the root bus and stays). The decision is pure (network_changes); the
// watcher thread does the system calls.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "container/runcvm-init/network_plan.hpp"
#include "container/runcvm-init/qmp.hpp"
#include "container/runcvm-init/vm_peers.hpp"
#include "handoff/launch.hpp"
#include "net/netlink.hpp"

namespace runcvm::container_init {

// An interface of the container's that the VM has.
struct WiredInterface {
  std::string name;
  int index = 0;             // the container-side link, by which Docker's removal is seen
  std::size_t position = 0;  // its bridge and tap (bridge_name, tap_name) and QEMU's ids
  bool hotplugged = false;
  std::string slot;                    // the hot-plug slot (a pcie-root-port's id) it occupies; "" for none
  std::vector<std::string> addresses;  // the VM's, "172.18.0.2/16"
  std::string mac = {};                // the VM's NIC's (the container's original)
};

struct NetworkChanges {
  // Interfaces Docker has finished setting up (up, with an address) that the VM lacks, with their
  // routes: plan_network of those links alone.
  handoff::Network added;
  std::vector<WiredInterface> removed;  // wired interfaces whose container-side link is gone
};

// `ignored`: links already turned down (no free slot, a machine without hot-plug): not again.
NetworkChanges network_changes(const std::vector<WiredInterface>& wired, const std::vector<int>& ignored,
                               const std::vector<net::Link>& links, const std::vector<net::Address>& addresses,
                               const std::vector<net::Route>& routes);

struct NetworkWatcherSettings {
  UniqueFd qmp;                // QEMU's monitor; none on a machine without hot-plug (microvm)
  std::optional<Qmp> monitor;  // the monitor already in command mode (a VM restored from a template), instead
  handoff::Qemu qemu;
  std::vector<WiredInterface> wired;  // the interfaces the VM booted with
  bool dns_forwarder = false;         // already serving
  bool host_side_address = false;     // runcvm-init's address is already on the first bridge
  std::vector<std::string> dns_upstreams;
  // Docker's /etc/resolv.conf for the container, held since before the VM ran (held_files.hpp);
  // Docker rewrites it in place when the container joins a network. None: --network none.
  UniqueFd resolv_conf;
  std::shared_ptr<VmPeers> peers;                  // the VM's addresses, kept as networks come and go
  std::function<void(std::string)> send_to_guest;  // a frame for the exec port's agent
};

// Starts the watcher's thread, for the life of the process; errors of one change become notices.
void start_network_watcher(NetworkWatcherSettings settings);

}  // namespace runcvm::container_init
