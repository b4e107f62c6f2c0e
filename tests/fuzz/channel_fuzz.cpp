// The channel decoder on arbitrary bytes: both ends read frames from the other side, and the host
// parses the guest's stages report.
#include "channel/boot_stages.hpp"
#include "channel/frame.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    runcvm::channel::Decoder decoder;
    decoder.feed(input);
    while (auto frame = decoder.next()) {
      if (frame->payload.size() == 4) runcvm::channel::payload_u32(*frame);
      if (frame->type == runcvm::channel::FrameType::stages) runcvm::channel::parse_guest_stages(frame->payload);
    }
  });
}
