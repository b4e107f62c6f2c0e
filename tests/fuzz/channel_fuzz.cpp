// The channel decoder on arbitrary bytes: both ends read frames from the other side, the host
// parses the guest's stages report, and the exec port's frames name their session.
#include "channel/boot_stages.hpp"
#include "channel/frame.hpp"
#include "channel/session.hpp"
#include "handoff/launch.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    runcvm::channel::Decoder decoder;
    decoder.feed(input);
    while (auto frame = decoder.next()) {
      if (frame->payload.size() == 4) runcvm::channel::payload_u32(*frame);
      if (frame->type == runcvm::channel::FrameType::stages) runcvm::channel::parse_guest_stages(frame->payload);
      if (frame->payload.size() < 4) continue;
      auto session = runcvm::channel::split_session(*frame);
      if (session.type == runcvm::channel::FrameType::exec_open) runcvm::handoff::parse_process(session.payload);
    }
  });
}
