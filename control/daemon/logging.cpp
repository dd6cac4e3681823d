#include "control/daemon/logging.h"

#include <strings.h>
#include <syslog.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace sipd::control {
namespace {

bool yes(std::string_view v) {
  return v == "1" || v == "yes" || v == "true" || v == "on" || v == "YES" || v == "TRUE" || v == "ON";
}

int syslog_priority(int level) {
  switch (level) {
    case -3:
      return LOG_ALERT;
    case -2:
      return LOG_CRIT;
    case -1:
      return LOG_ERR;
    case 0:
    case 1:
      return LOG_WARNING;
    case 2:
      return LOG_NOTICE;
    case 3:
      return LOG_INFO;
    default:
      return LOG_DEBUG;
  }
}

const char* level_name(int level) {
  switch (level) {
    case -3:
      return "ALERT";
    case -2:
      return "CRITICAL";
    case -1:
      return "ERROR";
    case 0:
    case 1:
      return "WARNING";
    case 2:
      return "NOTICE";
    case 3:
      return "INFO";
    default:
      return "DBG";
  }
}

}  // namespace

bool log_settings(const config::Program& program, LogSettings& out, std::string& error) {
  out = {};
  // 3.2's pair wins over 1.x's single switch when the script sets it.
  if (program.modparam_set("", "log_stderror")) {
    out.to_stderr = yes(program.modparam("", "log_stderror"));
    out.to_syslog = !out.to_stderr;
  }
  if (program.modparam_set("", "stderror_enabled"))
    out.to_stderr = yes(program.modparam("", "stderror_enabled"));
  if (program.modparam_set("", "syslog_enabled")) out.to_syslog = yes(program.modparam("", "syslog_enabled"));
  if (program.modparam_set("", "log_name")) out.name = std::string(program.modparam("", "log_name"));
  if (program.modparam_set("", "log_facility")) {
    static constexpr std::pair<std::string_view, int> kFacilities[] = {
        {"LOG_AUTH", LOG_AUTH},     {"LOG_AUTHPRIV", LOG_AUTHPRIV}, {"LOG_CRON", LOG_CRON},
        {"LOG_DAEMON", LOG_DAEMON}, {"LOG_FTP", LOG_FTP},           {"LOG_KERN", LOG_KERN},
        {"LOG_LOCAL0", LOG_LOCAL0}, {"LOG_LOCAL1", LOG_LOCAL1},     {"LOG_LOCAL2", LOG_LOCAL2},
        {"LOG_LOCAL3", LOG_LOCAL3}, {"LOG_LOCAL4", LOG_LOCAL4},     {"LOG_LOCAL5", LOG_LOCAL5},
        {"LOG_LOCAL6", LOG_LOCAL6}, {"LOG_LOCAL7", LOG_LOCAL7},     {"LOG_LPR", LOG_LPR},
        {"LOG_MAIL", LOG_MAIL},     {"LOG_NEWS", LOG_NEWS},         {"LOG_SYSLOG", LOG_SYSLOG},
        {"LOG_USER", LOG_USER},     {"LOG_UUCP", LOG_UUCP}};
    const std::string_view f = program.modparam("", "log_facility");
    bool found = false;
    for (const auto& [name, value] : kFacilities)
      if (name.size() == f.size() && ::strncasecmp(name.data(), f.data(), f.size()) == 0) {
        out.facility = value;
        found = true;
      }
    if (!found) {
      error = "log_facility \"" + std::string(f) + "\" is not a syslog facility (LOG_DAEMON, LOG_LOCAL0...)";
      return false;
    }
  }
  return true;
}

LogWriter::LogWriter(LogSettings settings) : settings_(std::move(settings)) {
  if (settings_.to_syslog)
    ::openlog(settings_.name.c_str(), LOG_PID | LOG_NDELAY,
              settings_.facility ? settings_.facility : LOG_DAEMON);
}

LogWriter::~LogWriter() {
  if (settings_.to_syslog) ::closelog();
}

void LogWriter::write(int level, std::string_view who, std::string_view text, int64_t unix_ms) {
  while (text.ends_with('\n')) text.remove_suffix(1);
  if (settings_.to_stderr) {
    const std::time_t now = unix_ms ? std::time_t(unix_ms / 1000) : std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%b %e %H:%M:%S", &tm);
    std::fprintf(stderr, "%s %.*s %s: %.*s\n", when, int(who.size()), who.data(), level_name(level),
                 int(text.size()), text.data());
  }
  if (settings_.to_syslog)
    ::syslog(syslog_priority(level), "%.*s %.*s", int(who.size()), who.data(), int(text.size()), text.data());
  ++written_;
}

namespace {
LogWriter* g_control_log = nullptr;
const int* g_control_level = nullptr;
}  // namespace

void set_control_log(LogWriter* writer, const int* level) {
  g_control_log = writer;
  g_control_level = level;
}

void control_log(int level, const char* format, ...) {
  if (g_control_level && level > *g_control_level) return;
  char line[1024];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(line, sizeof line, format, ap);
  va_end(ap);
  if (g_control_log) {
    g_control_log->write(level, "sipd-control", line);
    std::fflush(stderr);
  } else {
    std::fprintf(stderr, "sipd-control: %s\n", line);
  }
}

size_t drain_worker_logs(const shm::Segment& segment, LogWriter& out, size_t max) {
  size_t n = 0;
  const uint32_t workers = segment.header().workers;
  shm::LogRecord r;
  char who[24];
  for (uint32_t w = 0; w < workers && n < max; ++w) {
    shm::LogRing& ring = segment.logs(w);
    while (n < max && ring.pop(r)) {
      std::snprintf(who, sizeof who, "sipd[%u]", w);
      out.write(r.level, who, std::string_view(r.text, std::min<size_t>(r.length, shm::kLogText)), r.unix_ms);
      ++n;
    }
  }
  if (n) std::fflush(stderr);
  return n;
}

}  // namespace sipd::control
