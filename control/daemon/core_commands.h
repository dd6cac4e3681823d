// OpenSIPS's core MI commands as sipd answers them, with OpenSIPS 3's parameter names and result shapes:
// uptime, version, ps and log_level (which and help come with every CommandTable); and shm_check, which in
// OpenSIPS walks its allocator and here says how the shared segment is: its layout, both sides' pids and
// heartbeats, each worker's rings and program, the location table's use.
//
// sipd's processes: sipd-control (ID 0) and each dataplane worker (a thread of sipd-dataplane, so they share
// its PID). log_level sets control's level and the workers' (through the segment; each worker applies it
// within a turn of its loop); with a pid, only that process's.
//
// Who calls: sipd-control's main thread (MI handlers).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "control/mi/mgmt.h"
#include "control/shm/segment.h"

namespace sipd::control {

struct CoreInfo {
  shm::Segment* segment = nullptr;  // the dataplane's pid and workers, the workers' log level
  int64_t started = 0;              // control's start, unix seconds
  int* log_level = nullptr;         // control's own
  int script_log_level = 3;         // the workers' until MI sets it: the script's log_level
  int script_xlog_level = 2;        // the workers' xlog threshold until MI's xlog_level sets it
  std::string address;              // the SIP port, for the workers' "Type" ("udp:198.18.0.1:5060")
  std::function<int64_t()> now;     // unix seconds
  std::string shm_name;             // for shm_check
  std::function<uint32_t()> aors, bindings, capacity;  // the location table's use, for shm_check
};

// "sipd (<build> (x86_64/linux))": what version answers, OpenSIPS's "Server" shape.
std::string server_version();

void add_core_commands(CommandTable& table, CoreInfo info);

// The gflags module's MI commands, on the segment's global flags (what the workers' is_gflag() reads):
// set_gflag, reset_gflag and is_gflag take a bitmask (decimal or 0x hex; is_gflag: every bit of it set),
// get_gflags answers {"hex", "dec"}, as OpenSIPS's. Registered when the script loads gflags.so.
void add_gflags_commands(CommandTable& table, shm::Segment& segment);

}  // namespace sipd::control
