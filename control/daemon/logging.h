// Where sipd's log lines go, as OpenSIPS's core parameters say: 1.x's `log_stderror` (yes: stderr, no:
// syslog) or 3.2's `stderror_enabled` / `syslog_enabled` (each on its own; syslog only by default, as
// OpenSIPS), `log_facility` / `syslog_facility` (LOG_DAEMON by default) and `log_name` / `syslog_name`.
// sipd-control writes its own lines and the workers' — which reach it through each worker's log ring in
// the shared segment, so a worker never makes a syscall to log — with one LogWriter.
//
// Who calls: sipd-control's main thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/program.h"
#include "control/shm/segment.h"

namespace sipd::control {

struct LogSettings {
  bool to_stderr = false;
  bool to_syslog = true;
  int facility = 0;  // LOG_DAEMON when 0
  std::string name = "sipd";
};

// The script's logging parameters; false with the reason for a value OpenSIPS would refuse (an unknown
// facility).
bool log_settings(const config::Program& program, LogSettings& out, std::string& error);

class LogWriter {
 public:
  explicit LogWriter(LogSettings settings);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  // One line from `who` ("sipd[0]" for worker 0, "sipd-control"), at an OpenSIPS level (-3 ... 4), logged
  // at `unix_ms` (0: now).
  void write(int level, std::string_view who, std::string_view text, int64_t unix_ms = 0);
  uint64_t written() const { return written_; }

 private:
  LogSettings settings_;
  uint64_t written_ = 0;
};

// sipd-control's own lines (a database refusal, a failed save()): written by the process's LogWriter once
// main has set one, at or below control's log level (MI log_level); to stderr before that, and in tests.
void set_control_log(LogWriter* writer, const int* level);
[[gnu::format(printf, 2, 3)]] void control_log(int level, const char* format, ...);

// Drains the workers' log rings into a LogWriter: at most `max` lines a call, so a flood of lines cannot
// hold up control's loop (the rest wait in the rings, and the workers drop and count what does not fit).
// The number written.
size_t drain_worker_logs(const shm::Segment& segment, LogWriter& out, size_t max);

}  // namespace sipd::control
