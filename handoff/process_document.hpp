// A process (launch.hpp's Process) as JSON, shared by the documents that carry one: the launch
// document's workload and the exec request. Internal to handoff/.
#pragma once

#include "handoff/json_reader.hpp"
#include "handoff/launch.hpp"

namespace runcvm::handoff::detail {

Json process_json(const Process& process);
// Reads the fields of a process from r (the caller finishes r).
Process read_process(Reader& r);

}  // namespace runcvm::handoff::detail
