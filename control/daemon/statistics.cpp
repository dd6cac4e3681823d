#include "control/daemon/statistics.h"

#include <strings.h>

#include "control/mi/mgmt.h"

namespace sipd::control {
namespace {

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The `statistics` parameter: a non-empty array of strings, as OpenSIPS's MI insists.
bool items_of(const Json& params, std::vector<std::string>& out, MiError& error) {
  const Json* p = params.find("statistics");
  if (!p || !p->is_array()) {
    mi_fail(error, kMiInvalidParams, "Invalid params", "Bad type for parameter 'statistics'");
    return false;
  }
  if (p->items().empty()) {
    mi_fail(error, kMiInvalidParams, "Invalid params", "Empty array in parameter 'statistics'");
    return false;
  }
  for (const Json& item : p->items()) {
    if (item.is_int()) {
      out.push_back(std::to_string(item.as_int()));
    } else if (item.is_string()) {
      out.emplace_back(item.as_string());
    } else {
      mi_fail(error, kMiInvalidParams, "Invalid params", "Bad type for array item in parameter 'statistics'");
      return false;
    }
  }
  return true;
}

StatValue stat(std::string group, std::string name, bool gauge, uint64_t value, int worker = -1,
               std::string counter = {}) {
  StatValue s;
  s.group = std::move(group);
  s.name = std::move(name);
  s.gauge = gauge;
  s.value = value;
  s.worker = worker;
  s.counter = std::move(counter);
  return s;
}

}  // namespace

Statistics::Statistics(const shm::Segment* segment) : segment_(segment) {}

void Statistics::add(std::string group, std::string name, bool gauge, std::function<uint64_t()> read) {
  own_.push_back({std::move(group), std::move(name), gauge, std::move(read)});
}

std::vector<StatValue> Statistics::raw() const {
  std::vector<StatValue> out;
  const uint32_t workers = segment_ ? segment_->header().workers : 0;
  // The workers' OpenSIPS statistics, summed; a worker that never published counts nothing.
  std::array<uint64_t, size_t(shm::WorkerStat::kCount)> sums{};
  for (uint32_t w = 0; w < workers; ++w) {
    const shm::WorkerStatsBlock& b = segment_->stats(w);
    if (b.published_ms.load(std::memory_order_acquire) == 0) continue;
    for (size_t i = 0; i < sums.size(); ++i) sums[i] += b.value[i].load(std::memory_order_relaxed);
  }
  const auto group = [&](std::string_view g) {
    for (size_t i = 0; i < shm::kWorkerStats.size(); ++i)
      if (shm::kWorkerStats[i].group == g)
        out.push_back(stat(std::string(g), std::string(shm::kWorkerStats[i].name), shm::kWorkerStats[i].gauge,
                           sums[i]));
  };
  group("core");
  // net: the net stacks' counters, summed over workers, by the first worker's names.
  if (workers && segment_->stats(0).published_ms.load(std::memory_order_acquire)) {
    const shm::WorkerStatsBlock& first = segment_->stats(0);
    const uint32_t n = std::min(first.own_count.load(std::memory_order_acquire), shm::kOwnCounters);
    for (uint32_t i = 0; i < n; ++i) {
      if (!(first.own_kind[i] & shm::kOwnNet)) continue;
      uint64_t sum = 0;
      for (uint32_t w = 0; w < workers; ++w) {
        const shm::WorkerStatsBlock& b = segment_->stats(w);
        if (b.published_ms.load(std::memory_order_acquire) && i < b.own_count.load(std::memory_order_acquire))
          sum += b.own[i].load(std::memory_order_relaxed);
      }
      out.push_back(stat("net", first.own_name[i], (first.own_kind[i] & shm::kOwnGauge) != 0, sum));
    }
  }
  group("sl");
  group("tm");
  for (const Own& o : own_) out.push_back(stat(o.group, o.name, o.gauge, o.read()));
  // dataplane: each worker's own table, "<worker>-<counter>", and what a message cost it.
  for (uint32_t w = 0; w < workers; ++w) {
    const shm::WorkerStatsBlock& b = segment_->stats(w);
    if (b.published_ms.load(std::memory_order_acquire) == 0) continue;
    const uint32_t n = std::min(b.own_count.load(std::memory_order_acquire), shm::kOwnCounters);
    uint64_t busy = 0, messages = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const std::string_view counter(b.own_name[i]);
      const uint64_t v = b.own[i].load(std::memory_order_relaxed);
      if (counter == "busy_cycles") busy = v;
      if (counter == "sip_rx") messages = v;
      out.push_back(stat("dataplane", std::to_string(w) + "-" + std::string(counter),
                         (b.own_kind[i] & shm::kOwnGauge) != 0, v, int(w), std::string(counter)));
    }
    out.push_back(stat("dataplane", std::to_string(w) + "-cycles_per_message", true,
                       messages ? busy / messages : 0, int(w), "cycles_per_message"));
  }
  // runtime: where each worker's sampled turns' cycles went, stage by stage (sipctl stats runtime).
  for (uint32_t w = 0; w < workers; ++w) {
    const shm::WorkerStatsBlock& b = segment_->stats(w);
    if (b.published_ms.load(std::memory_order_acquire) == 0) continue;
    const std::string prefix = std::to_string(w) + "-";
    const auto put = [&](const std::string& counter, bool gauge, uint64_t v) {
      out.push_back(stat("runtime", prefix + counter, gauge, v, int(w), counter));
    };
    put("tsc_hz", true, b.tsc_hz.load(std::memory_order_relaxed));
    put("turns", false, b.runtime_turns.load(std::memory_order_relaxed));
    for (size_t s = 0; s < shm::kRuntimeStages.size(); ++s) {
      const std::string stage(shm::kRuntimeStages[s]);
      put(stage + "_calls", false, b.runtime[s].calls.load(std::memory_order_relaxed));
      put(stage + "_vectors", false, b.runtime[s].vectors.load(std::memory_order_relaxed));
      put(stage + "_cycles", false, b.runtime[s].cycles.load(std::memory_order_relaxed));
    }
  }
  return out;
}

std::vector<StatValue> Statistics::all() const {
  std::vector<StatValue> out = raw();
  for (StatValue& s : out) {
    if (s.gauge) continue;
    const auto it = baseline_.find(key(s));
    if (it != baseline_.end()) s.value = s.value >= it->second ? s.value - it->second : s.value;
  }
  return out;
}

std::vector<StatValue> Statistics::select(std::span<const std::string> items, bool& found) const {
  found = false;
  const std::vector<StatValue> every = all();
  std::vector<StatValue> out;
  for (const std::string& item : items) {
    if (item == "all") {
      out.insert(out.end(), every.begin(), every.end());
      found = true;
    } else if (item.size() > 1 && item.back() == ':') {
      const std::string_view g = std::string_view(item).substr(0, item.size() - 1);
      for (const StatValue& s : every)
        if (same(s.group, g)) {
          out.push_back(s);
          found = true;
        }
    } else {
      for (const StatValue& s : every)
        if (same(s.name, item)) {
          out.push_back(s);
          found = true;
          break;
        }
    }
  }
  return out;
}

bool Statistics::reset(std::span<const std::string> names) {
  bool found = false;
  const std::vector<StatValue> every = raw();
  for (const std::string& name : names)
    for (const StatValue& s : every)
      if (same(s.name, name)) {
        found = true;
        if (!s.gauge) baseline_[key(s)] = s.value;
        break;
      }
  return found;
}

void add_statistics_commands(CommandTable& table, Statistics& stats) {
  // The members in order, a key asked for twice given twice (as OpenSIPS does): built as a list, not with
  // set(), which looks for the key each time.
  const auto listing = [](const std::vector<StatValue>& values, bool kinds, bool grouped) {
    Json::Object out;
    out.reserve(values.size());
    for (const StatValue& s : values)
      out.emplace_back(grouped ? s.group + ":" + s.name : s.name,
                       kinds ? Json(s.gauge ? "non-incremental" : "incremental") : Json(s.value));
    return Json(std::move(out));
  };
  table.add("get_statistics", MiSignature{{"statistics"}, 1},
            [&stats, listing](const Json& params, MiError& error) {
              std::vector<std::string> items;
              if (!items_of(params, items, error)) return Json();
              bool found = false;
              const std::vector<StatValue> values = stats.select(items, found);
              if (!found) return mi_fail(error, 404, "Statistics Not Found");
              return listing(values, false, true);
            });
  table.add("list_statistics", MiSignature{{"statistics"}, 0},
            [&stats, listing](const Json& params, MiError& error) {
              if (!params.find("statistics")) return listing(stats.all(), true, true);
              std::vector<std::string> items;
              if (!items_of(params, items, error)) return Json();
              // As OpenSIPS: "all" is a name here, and a statistic asked for by name is listed without its
              // group.
              Json out = Json::object();
              bool found = false;
              for (const std::string& item : items) {
                const std::string one[] = {item};
                bool hit = false;
                const std::vector<StatValue> values =
                    item == "all" ? std::vector<StatValue>() : stats.select(one, hit);
                if (!hit) continue;
                found = true;
                const bool group = item.size() > 1 && item.back() == ':';
                for (const StatValue& s : values)
                  out.set(group ? s.group + ":" + s.name : s.name,
                          s.gauge ? "non-incremental" : "incremental");
              }
              if (!found) return mi_fail(error, 404, "Statistics Not Found");
              return out;
            });
  table.add("reset_statistics", MiSignature{{"statistics"}, 1}, [&stats](const Json& params, MiError& error) {
    std::vector<std::string> items;
    if (!items_of(params, items, error)) return Json();
    if (!stats.reset(items)) return mi_fail(error, 404, "Statistics Not Found");
    return Json("OK");
  });
  table.describe("get_statistics",
                 "statistics by name, by group (\"core:\") or all of them, as group:name = value", "core");
  table.describe("list_statistics", "the statistics there are, each incremental or non-incremental", "core");
  table.describe("reset_statistics", "starts the named statistics again from zero (gauges are left alone)",
                 "core");
}

}  // namespace sipd::control
