// The pike module's MI commands, over what the workers publish in the shared segment (control/shm/pike.h):
//   pike_list       {"IPs": ["192.0.2.1", ...]}: the addresses some worker holds blocked now (as of its last
//                   table walk, at most 100 ms old), each once
//   pike_rm ip      unblocks the address on every worker that holds it blocked (its hits cleared), "OK";
//                   400 "IP not blocked" when no worker does; 500 "Bad IP" when `ip` is not an address
// Registered when the script loads pike.so. The workers apply a removal within a millisecond; nothing here
// waits for them.
//
// Who calls: sipd-control's main thread (MI handlers).
#pragma once

#include "control/mi/mgmt.h"
#include "control/shm/segment.h"

namespace sipd::control {

void add_pike_commands(CommandTable& table, shm::Segment& segment);

}  // namespace sipd::control
