#include "control/daemon/core_commands.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace sipd::control {
namespace {

// ctime() without its newline: "Tue Dec  1 16:51:05 2026".
std::string ctime_text(int64_t t) {
  const time_t tt = time_t(t);
  char buf[32];
  if (!ctime_r(&tt, buf)) return "";
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A level from MI: a JSON number or a numeric string, as OpenSIPS's getters take it.
bool level_of(const Json& v, int64_t& out) {
  if (v.is_int()) {
    out = v.as_int();
    return true;
  }
  if (!v.is_string()) return false;
  const std::string_view s = v.as_string();
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  int64_t n = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9' || n > 1000) return false;
    n = n * 10 + (s[i] - '0');
  }
  out = s[0] == '-' ? -n : n;
  return true;
}

}  // namespace

std::string server_version() {
#ifdef SIPD_BUILD_VERSION
  const std::string build = SIPD_BUILD_VERSION;
#else
  const std::string build = "unknown build";
#endif
  utsname u{};
  const std::string arch = ::uname(&u) == 0 ? std::string(u.machine) + "/linux" : "linux";
  return "sipd (" + build + " (" + arch + "))";
}

void add_core_commands(CommandTable& table, CoreInfo info) {
  const auto shared = std::make_shared<CoreInfo>(std::move(info));
  table.add("uptime", MiSignature{{}, 0}, [shared](const Json&, MiError&) {
    const int64_t now = shared->now();
    Json out = Json::object();
    out.set("Now", ctime_text(now));
    out.set("Up since", ctime_text(shared->started));
    out.set("Up time", std::to_string(now - shared->started) + " [sec]");
    return out;
  });
  table.describe("uptime", "when sipd-control started and how long ago", "core");
  table.add("version", MiSignature{{}, 0}, [](const Json&, MiError&) {
    Json out = Json::object();
    out.set("Server", server_version());
    return out;
  });
  table.describe("version", "sipd's build", "core");
  // The processes: control, then each worker of a running dataplane.
  const auto processes = [shared](bool with_ids, int control_level, int worker_level) {
    const shm::Header& h = shared->segment->header();
    Json list = Json::array();
    Json control = Json::object();
    if (with_ids) control.set("ID", 0);
    control.set("PID", int64_t(::getpid()));
    if (!with_ids) control.set("Log level", control_level);
    control.set("Type", "sipd-control");
    list.push(std::move(control));
    const int32_t pid = h.dataplane.pid.load(std::memory_order_relaxed);
    if (pid != 0) {
      const uint32_t workers = std::min(h.active_workers.load(std::memory_order_relaxed), shm::kMaxWorkers);
      for (uint32_t w = 0; w < workers; ++w) {
        Json one = Json::object();
        if (with_ids) one.set("ID", int64_t(w) + 1);
        one.set("PID", int64_t(pid));
        if (!with_ids) one.set("Log level", worker_level);
        one.set("Type", "sipd-dataplane worker " + std::to_string(w) + " (" + shared->address + ")");
        list.push(std::move(one));
      }
    }
    return list;
  };
  table.add("ps", MiSignature{{}, 0}, [processes](const Json&, MiError&) {
    Json out = Json::object();
    out.set("Processes", processes(true, 0, 0));
    return out;
  });
  table.describe("ps", "sipd's processes: sipd-control and the dataplane's workers", "core");
  table.add(
      "log_level", MiSignature{{"level", "pid"}, 0}, [shared, processes](const Json& params, MiError& error) {
        std::atomic<int32_t>& workers = shared->segment->header().log_level;
        const int32_t set = workers.load(std::memory_order_relaxed);
        const int worker_level = set == shm::kScriptLogLevel ? shared->script_log_level : int(set);
        const Json* level = params.find("level");
        if (!level) {
          Json out = Json::object();
          out.set("Processes", processes(false, *shared->log_level, worker_level));
          return out;
        }
        int64_t n = 0;
        if (!level_of(*level, n))
          return mi_fail(error, kMiInvalidParams, "Invalid params", "Bad type for parameter 'level'");
        n = std::clamp<int64_t>(n, -3, 4);  // L_ALERT .. L_DBG
        const Json* pid = params.find("pid");
        if (!pid) {
          *shared->log_level = int(n);
          workers.store(int32_t(n), std::memory_order_relaxed);
          Json out = Json::object();
          out.set("New global log level", n);
          return out;
        }
        int64_t p = 0;
        if (!level_of(*pid, p))
          return mi_fail(error, kMiInvalidParams, "Invalid params", "Bad type for parameter 'pid'");
        if (p == int64_t(::getpid())) {
          *shared->log_level = int(n);
        } else if (p != 0 && p == shared->segment->header().dataplane.pid.load(std::memory_order_relaxed)) {
          workers.store(int32_t(n), std::memory_order_relaxed);  // the workers are threads of one process
        } else {
          return mi_fail(error, kMiInvalidParams, "Invalid params", "Bad PID");
        }
        Json out = Json::object();
        out.set("Log level", n);
        return out;
      });
  table.add("shm_check", MiSignature{{}, 0}, [shared](const Json&, MiError&) {
    shm::Segment& seg = *shared->segment;
    const shm::Header& h = seg.header();
    Json out = Json::object();
    out.set("Segment", "/dev/shm/" + shared->shm_name);
    out.set("Layout", int64_t(h.version));
    out.set("Bytes", h.total_bytes);
    const auto side = [](const shm::Side& s) {
      Json o = Json::object();
      o.set("PID", int64_t(s.pid.load(std::memory_order_relaxed)));
      o.set("Epoch", int64_t(s.epoch.load(std::memory_order_relaxed)));
      o.set("Heartbeat", s.heartbeat.load(std::memory_order_relaxed));
      return o;
    };
    out.set("Dataplane", side(h.dataplane));
    out.set("Control", side(h.control));
    Json workers = Json::array();
    const uint32_t n = std::min(h.active_workers.load(std::memory_order_relaxed), shm::kMaxWorkers);
    for (uint32_t w = 0; w < n; ++w) {
      Json one = Json::object();
      one.set("Worker", w);
      // Control consumes the questions and produces the answers: the counts its ends may read.
      one.set("Questions waiting", int64_t(seg.questions(w).read_available()));
      one.set("Answers waiting", int64_t(shm::kRingSlots - seg.answers(w).write_available()));
      one.set("Program", h.programs.installed[w].load(std::memory_order_relaxed));
      workers.push(std::move(one));
    }
    out.set("Workers", std::move(workers));
    Json location = Json::object();
    location.set("AORs", shared->aors ? shared->aors() : 0u);
    location.set("Bindings", shared->bindings ? shared->bindings() : 0u);
    location.set("Capacity", shared->capacity ? shared->capacity() : 0u);
    out.set("Location", std::move(location));
    return out;
  });
  table.describe("shm_check",
                 "the shared segment's health: layout, both processes' pids and heartbeats, each worker's "
                 "rings and program, the location table's use",
                 "core");
  table.add("xlog_level", MiSignature{{"level"}, 0}, [shared](const Json& params, MiError& error) {
    std::atomic<int32_t>& workers = shared->segment->header().xlog_level;
    const Json* level = params.find("level");
    Json out = Json::object();
    if (!level) {
      const int32_t set = workers.load(std::memory_order_relaxed);
      out.set("xLog Level", set == shm::kScriptLogLevel ? shared->script_xlog_level : int(set));
      return out;
    }
    int64_t n = 0;
    if (!level_of(*level, n))
      return mi_fail(error, kMiInvalidParams, "Invalid params", "Bad type for parameter 'level'");
    n = std::clamp<int64_t>(n, -3, 4);
    workers.store(int32_t(n), std::memory_order_relaxed);
    out.set("New xLog level", n);
    return out;
  });
  table.describe("xlog_level",
                 "the level xlog() lines must not exceed to be logged, or sets it for every worker", "core");
  table.describe("log_level",
                 "the log level of every process, or sets it: level alone for all, level and pid for one "
                 "(the dataplane's pid sets all its workers)",
                 "core");
}

void add_gflags_commands(CommandTable& table, shm::Segment& segment) {
  std::atomic<uint32_t>& flags = segment.header().gflags;
  // OpenSIPS reads the bitmask as a number or its text, decimal or 0x hex; 0 and anything else are refused.
  const auto mask_of = [](const Json& params, uint32_t& out) {
    const Json* m = params.find("bitmask");
    if (!m) return false;
    if (m->is_int()) {
      const int64_t v = m->as_int();
      out = uint32_t(v);
      return v > 0 && v <= int64_t(UINT32_MAX);
    }
    const std::string text(m->as_string());
    if (text.empty()) return false;
    char* end = nullptr;
    const unsigned long long v =
        std::strtoull(text.c_str(), &end, text.starts_with("0x") || text.starts_with("0X") ? 16 : 10);
    out = uint32_t(v);
    return end && *end == '\0' && v > 0 && v <= UINT32_MAX;
  };
  const auto op = [&flags, mask_of](int which) {
    return [&flags, mask_of, which](const Json& params, MiError& error) -> Json {
      uint32_t mask = 0;
      if (!mask_of(params, mask)) return mi_fail(error, 400, "Bad parameter value");
      if (which == 0) flags.fetch_or(mask, std::memory_order_relaxed);
      if (which == 1) flags.fetch_and(~mask, std::memory_order_relaxed);
      if (which == 2) return Json((flags.load(std::memory_order_relaxed) & mask) == mask);
      return Json("OK");
    };
  };
  table.add("set_gflag", MiSignature{{"bitmask"}, 1}, op(0));
  table.describe("set_gflag", "sets the global flags of a bitmask", "gflags");
  table.add("reset_gflag", MiSignature{{"bitmask"}, 1}, op(1));
  table.describe("reset_gflag", "clears the global flags of a bitmask", "gflags");
  table.add("is_gflag", MiSignature{{"bitmask"}, 1}, op(2));
  table.describe("is_gflag", "true when every global flag of a bitmask is set", "gflags");
  table.add("get_gflags", MiSignature{{}, 0}, [&flags](const Json&, MiError&) {
    const uint32_t v = flags.load(std::memory_order_relaxed);
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", v);
    Json out = Json::object();
    out.set("hex", std::string(hex));
    out.set("dec", std::to_string(v));
    return out;
  });
  table.describe("get_gflags", "the global flags, in hex and in decimal", "gflags");
}

}  // namespace sipd::control
