// runcvm-init's exec multiplexer driven by arbitrary sequences of events: the guest sending bytes
// on the exec port, clients connecting, sending, reading and hanging up, the guest hanging up. No
// sequence may throw out of the mux, crash it, or let its queues grow past their bounds.
#include <cstdlib>

#include "channel/session.hpp"
#include "container/runcvm-init/port_writer.hpp"
#include "tests/common/exec_mux_rig.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using runcvm::channel::kSessionChunk;
  using runcvm::channel::kSessionWindow;
  runcvm::test::ExecMuxRig rig;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Each event: one byte of kind, one of length, then that many bytes of data.
  while (input.size() >= 2) {
    auto kind = static_cast<unsigned char>(input[0]) % 6;
    std::size_t length = std::min<std::size_t>(static_cast<unsigned char>(input[1]), input.size() - 2);
    std::string_view bytes = input.substr(2, length);
    input.remove_prefix(2 + length);
    int client = rig.clients() ? static_cast<int>(length % rig.clients()) : -1;
    switch (kind) {
      case 0:
        rig.guest_sends(bytes);
        break;
      case 1:
        rig.connect_client();
        break;
      case 2:
        if (client >= 0) rig.client_sends(client, bytes);
        break;
      case 3:
        if (client >= 0) rig.client_receives(client);
        break;
      case 4:
        if (client >= 0) rig.client_hangs_up(client);
        break;
      case 5:
        if (length == 0)
          rig.guest_hangs_up();
        else
          rig.guest_receives();
        break;
    }
    rig.step();  // an exception escaping here is a finding: the mux must absorb what peers send
    if (rig.mux().queued_to_port() > runcvm::container_init::kPortBacklogLimit + 2 * kSessionChunk) std::abort();
    if (rig.mux().queued_to_clients() > rig.mux().sessions() * (4 * kSessionWindow + runcvm::channel::kMaxPayload))
      std::abort();
  }
  return 0;
}
