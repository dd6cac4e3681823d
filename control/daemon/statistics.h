// sipd-control's statistics, named and grouped as OpenSIPS 3 names them, for MI's get_statistics,
// list_statistics and reset_statistics and for the prometheus module.
//
// Where the values come from:
//   core, sl, tm   the workers' blocks in the shared segment (control/shm/stats.h), summed over workers
//   net            the workers' net-stack counters, summed
//   dataplane      each worker's own counter table, one statistic per worker and counter ("0-busy_cycles"),
//                  plus its cycles per message
//   usrloc,        control's own (the location table, the registrar service): registered with add()
//   registrar
// Nothing here touches a worker: reading is a walk over the segment's blocks, and a reset keeps a baseline
// here (a worker's counters only ever grow; a dataplane that restarts starts from zero, and a baseline
// above a value is then taken as zero).
//
// Who calls: sipd-control's main thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control/shm/segment.h"

namespace sipd::control {

class CommandTable;

struct StatValue {
  std::string group, name;  // name as MI prints it after "group:" ("0-busy_cycles" for a worker's)
  bool gauge = false;       // goes down or is set: never reset, "non-incremental", a Prometheus gauge
  uint64_t value = 0;
  int worker = -1;  // the dataplane group's: which worker, and `counter` its counter's own name
  std::string counter;
};

class Statistics {
 public:
  // `segment` may be null (no workers' statistics: tests of control's own).
  explicit Statistics(const shm::Segment* segment);

  // One of control's own: read when asked.
  void add(std::string group, std::string name, bool gauge, std::function<uint64_t()> read);

  // Every statistic now, group by group (core, net, sl, tm, then control's own groups in the order added,
  // then dataplane), with resets applied.
  std::vector<StatValue> all() const;
  // What MI's get_statistics answers for these items ("all", "group:", or a statistic's name, matched
  // without regard to case, the first of that name in any group); `found` when any item matched.
  std::vector<StatValue> select(std::span<const std::string> items, bool& found) const;
  // reset_statistics: each named statistic that is not a gauge starts again from zero. False when no name
  // matched.
  bool reset(std::span<const std::string> names);

 private:
  struct Own {
    std::string group, name;
    bool gauge;
    std::function<uint64_t()> read;
  };
  std::vector<StatValue> raw() const;  // before resets
  std::string key(const StatValue& s) const { return s.group + ":" + s.name; }

  const shm::Segment* segment_;
  std::vector<Own> own_;
  std::map<std::string, uint64_t> baseline_;
};

// get_statistics, list_statistics, reset_statistics. `stats` must outlive `table`.
void add_statistics_commands(CommandTable& table, Statistics& stats);

}  // namespace sipd::control
