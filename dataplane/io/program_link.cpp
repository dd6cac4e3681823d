#include "dataplane/io/program_link.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "config/program.h"
#include "config/program_blob.h"

namespace sipd::io {

ProgramLink::ProgramLink(const shm::Segment& segment, uint32_t worker, proxy::Proxy& proxy, bool startup,
                         proxy::TimerSchedule* schedules)
    : segment_(segment), worker_(worker), proxy_(proxy), startup_(startup), schedules_(schedules) {}

void ProgramLink::running(uint64_t generation) {
  seen_ = generation;
  segment_.header().programs.installed[worker_].store(generation, std::memory_order_release);
}

bool ProgramLink::poll() {
  shm::ProgramArea& area = segment_.header().programs;
  const uint64_t generation = area.generation.load(std::memory_order_acquire);
  if (generation == seen_) return false;
  seen_ = generation;
  const uint32_t slot = uint32_t(generation & 1);
  const uint64_t length = area.length[slot].load(std::memory_order_relaxed);
  const std::span<char> bytes = segment_.program_slot(slot);
  if (length == 0 || length > bytes.size()) {
    refuse(generation,
           "the published program's length (" + std::to_string(length) + ") does not fit its slot");
    return true;
  }
  auto program = std::make_unique<config::Program>();
  if (const std::string why = config::deserialize_program(std::string_view(bytes.data(), length), *program);
      !why.empty()) {
    refuse(generation, "the published program does not load: " + why);
    return true;
  }
  proxy::TimerSchedule* schedule = schedules_ ? &schedules_[slot] : nullptr;
  if (schedule) {
    // The slot's schedule was the program two generations back's, which no worker runs any more: each
    // worker clears it as it installs. A route cleared after another worker scheduled it is scheduled again
    // one interval on, so at a push a timer route may run once late, never twice in an interval.
    for (auto& due : schedule->due) due.store(0, std::memory_order_relaxed);
  }
  if (const std::string why = proxy_.install(std::move(program), schedule); !why.empty()) {
    refuse(generation, why);
    return true;
  }
  if (startup_) proxy_.run_startup();
  ++counters_.installed;
  area.installed[worker_].store(generation, std::memory_order_release);
  return true;
}

void ProgramLink::refuse(uint64_t generation, const std::string& why) {
  shm::ProgramArea& area = segment_.header().programs;
  const size_t n = std::min(why.size(), sizeof area.why[worker_] - 1);
  std::memcpy(area.why[worker_], why.data(), n);
  area.why[worker_][n] = '\0';
  ++counters_.refused;
  area.refused[worker_].store(generation, std::memory_order_release);
}

}  // namespace sipd::io
