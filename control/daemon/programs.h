// Control as the one authority for the running script (DESIGN.md, "Configuration and who owns it"):
// `sipctl config push FILE` and `reload_routes` compile here, exactly as the dataplane compiles at start
// (proxy::appliance_program); a script that does not compile changes nothing and says every error as
// FILE:LINE:COL. One that does is published in the segment's program area, and each worker installs its
// own copy between two bursts (dataplane/io/program_link). Once every worker runs it, it is kept in the state
// directory, so a restart of either process, or of the appliance, runs what was last pushed.
//
// MI commands: config_push {file, text} (sipd's own), config_status, reload_routes (OpenSIPS's name:
// re-reads the active script's file).
//
// Who calls: sipd-control's main thread. poll() every turn of its loop (cheap while nothing is pending).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/appliance.h"
#include "config/program.h"
#include "control/mi/json.h"
#include "control/mi/mgmt.h"
#include "control/shm/segment.h"

namespace sipd::control {

class ProgramService {
 public:
  enum class State : uint8_t { None, Installing, Installed, Refused, TimedOut };

  // `active_file`: the file the running script came from (reload_routes re-reads it). `now_us`: a monotonic
  // clock in µs (a test seam).
  ProgramService(shm::Segment& segment, const config::Appliance& app, std::string active_file,
                 std::function<int64_t()> now_us);

  // Compiles `text` (named `file` in diagnostics and from then on the active file) and publishes it. False
  // with `error` set — every diagnostic, or why it cannot be published now — when nothing changed.
  bool push(const std::string& file, std::string_view text, MiError& error);
  // Follows the push under way: true when it finished in this call (installed, refused or timed out).
  bool poll();

  // Called with a compiled program before it is published: a reason to refuse it, or "" (control's own
  // settings that cannot change while it runs: usrloc's storage, avpops' database).
  void on_check(std::function<std::string(const config::Program&)> hook) { on_check_ = std::move(hook); }
  // Called with a program once every worker runs it: control's own services take its modparams.
  void on_installed(std::function<void(const config::Program&)> hook) { on_installed_ = std::move(hook); }

  State state() const { return state_; }
  uint64_t generation() const { return generation_; }
  int64_t latency_us() const { return latency_us_; }  // publish to the last worker switched, last push
  const std::string& active_file() const { return active_file_; }
  Json status() const;

  // config_push, config_status, reload_routes.
  void add_commands(CommandTable& table);

  static constexpr int64_t kTimeoutUs = 10'000'000;  // a push no worker answers ends as timed out

 private:
  bool all_answered(bool& refused) const;

  shm::Segment& segment_;
  const config::Appliance& app_;
  std::string active_file_;
  std::function<int64_t()> now_us_;
  std::function<std::string(const config::Program&)> on_check_;
  std::function<void(const config::Program&)> on_installed_;
  State state_ = State::None;
  uint64_t generation_ = 0;
  int64_t published_us_ = 0, latency_us_ = -1;
  uint32_t workers_ = 0;  // active workers when published
  // The push under way: what is kept once every worker runs it.
  std::string pending_file_, pending_text_;
  std::unique_ptr<config::Program> pending_;
  std::string outcome_;  // a refusal's or timeout's words
};

}  // namespace sipd::control
