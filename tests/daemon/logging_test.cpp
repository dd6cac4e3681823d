// Where log lines go, as OpenSIPS's core parameters say (1.x's log_stderror, 3.2's stderror_enabled and
// syslog_enabled, the facility by name in any case), and the workers' lines drained from their rings in a
// real segment and written by control, at most so many a call.
#include "control/daemon/logging.h"

#include <gtest/gtest.h>
#include <syslog.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace sipd::control {
namespace {

LogSettings settings_of(std::initializer_list<std::pair<const char*, const char*>> globals, bool ok = true) {
  config::Program p;
  for (const auto& [name, value] : globals) p.modparams.push_back({"", name, value});
  LogSettings s;
  std::string error;
  EXPECT_EQ(log_settings(p, s, error), ok) << error;
  return s;
}

TEST(logging, SettingsAsOpenSipsNamesThem) {
  LogSettings s = settings_of({});
  EXPECT_TRUE(s.to_syslog);  // OpenSIPS's default: syslog only
  EXPECT_FALSE(s.to_stderr);
  s = settings_of({{"log_stderror", "yes"}});
  EXPECT_TRUE(s.to_stderr);
  EXPECT_FALSE(s.to_syslog);
  s = settings_of({{"stderror_enabled", "yes"}, {"syslog_enabled", "yes"}});
  EXPECT_TRUE(s.to_stderr && s.to_syslog);
  s = settings_of({{"log_stderror", "yes"}, {"syslog_enabled", "1"}});  // 3.2's switch on top of 1.x's
  EXPECT_TRUE(s.to_stderr && s.to_syslog);
  s = settings_of({{"log_facility", "LoG_LoCAL0"}, {"log_name", "edge1"}});
  EXPECT_EQ(s.facility, LOG_LOCAL0);
  EXPECT_EQ(s.name, "edge1");
  config::Program p;
  p.modparams.push_back({"", "log_facility", "LOG_NOWHERE"});
  std::string error;
  EXPECT_FALSE(log_settings(p, s, error));
  EXPECT_NE(error.find("not a syslog facility"), std::string::npos) << error;
}

TEST(logging, WorkersLinesAreDrainedFromTheirRings) {
  const std::string name = "sipd-test-logs-" + std::to_string(::getpid());
  shm::Segment::remove(name);
  shm::Segment segment;
  std::string error;
  ASSERT_TRUE(segment.open(name, shm::Sizes{2, 0}, error)) << error;
  const auto put = [&](uint32_t w, int level, const std::string& text) {
    shm::LogRecord r;
    r.level = int8_t(level);
    r.worker = w;
    r.length = uint16_t(text.size());
    std::memcpy(r.text, text.data(), text.size());
    return segment.logs(w).push(r);
  };
  ASSERT_TRUE(put(0, 4, "debug-line one"));
  ASSERT_TRUE(put(1, -1, "an error"));
  ASSERT_TRUE(put(0, 2, "notice two"));
  LogSettings s;
  s.to_stderr = true;
  s.to_syslog = false;
  LogWriter out(s);
  testing::internal::CaptureStderr();
  EXPECT_EQ(drain_worker_logs(segment, out, 2), 2u);  // bounded per call
  EXPECT_EQ(drain_worker_logs(segment, out, 16), 1u);
  EXPECT_EQ(drain_worker_logs(segment, out, 16), 0u);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(" sipd[0] DBG: debug-line one\n"), std::string::npos) << err;
  EXPECT_NE(err.find(" sipd[0] NOTICE: notice two\n"), std::string::npos) << err;
  EXPECT_NE(err.find(" sipd[1] ERROR: an error\n"), std::string::npos) << err;
  EXPECT_EQ(out.written(), 3u);
  // A ring holds kLogSlots lines; a worker whose control is away finds it full (and counts the drop).
  size_t pushed = 0;
  while (put(1, 3, "x") && pushed < 10000) ++pushed;
  EXPECT_EQ(pushed, shm::kLogSlots);
  shm::Segment::remove(name);
}

}  // namespace
}  // namespace sipd::control
