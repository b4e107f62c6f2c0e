// Two connected stream sockets joined: what arrives on one is written to the other, both ways,
// until both sides have closed; a side's end of data is passed on as a half-close (shutdown),
// which protocols like Docker's API (hijacked attach streams) rely on.
#pragma once

namespace runcvm {

void relay_both_ways(int a, int b);

}  // namespace runcvm
