// runcvm-init's notices about the VM's misbehaviour (a malformed frame, a session that ignored
// its window). The workload's stderr is the workload's: notices go to a bounded log in the
// container's private state directory, /.runcvm/runcvm-init.log (the host reads it under
// /proc/<pid>/root), and to stderr only when the console or debug output was asked for.
#pragma once

#include <string_view>

namespace runcvm::container_init {

// Where notices also go to stderr; set once at start from the launch document.
void set_notices_to_stderr(bool yes);
void notice(std::string_view message);

}  // namespace runcvm::container_init
