// A worker's end of the segment's program area: when control publishes a new routing program (sipctl
// config push, reload_routes; made by proxy::appliance_program as the start-up one is), the worker reads it
// between two bursts, deserializes its own copy and installs it in its proxy (transactions keep the program
// they started with). The worker that runs start-up routes runs the new
// program's startup_route. What it did goes back into the area for control to read: the generation it
// runs, or the one it refused and why.
//
// Who calls: the worker's own lcore, between bursts. Looking costs one atomic load; installing allocates (a
// program is built once per push, never per message).
#pragma once

#include <cstdint>
#include <string>

#include "control/shm/segment.h"
#include "dataplane/proxy/proxy.h"

namespace sipd::io {

struct ProgramCounters {
  uint64_t installed = 0, refused = 0;
};

class ProgramLink {
 public:
  // `startup`: this worker runs a new program's startup_route. `schedules`: two timer schedules shared by
  // the workers, one per slot of the area (null: the proxy's own).
  ProgramLink(const shm::Segment& segment, uint32_t worker, proxy::Proxy& proxy, bool startup,
              proxy::TimerSchedule* schedules = nullptr);

  // The generation the proxy already runs (the dataplane started with the program published there): not
  // installed again.
  void running(uint64_t generation);
  // Installs what control published since the last look; true when there was something.
  bool poll();
  const ProgramCounters& counters() const { return counters_; }

 private:
  void refuse(uint64_t generation, const std::string& why);

  const shm::Segment& segment_;
  uint32_t worker_;
  proxy::Proxy& proxy_;
  bool startup_;
  proxy::TimerSchedule* schedules_;
  uint64_t seen_ = 0;
  ProgramCounters counters_;
};

}  // namespace sipd::io
