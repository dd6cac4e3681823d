#include "control/daemon/programs.h"

#include <cstring>

#include "config/program_blob.h"
#include "config/source.h"
#include "dataplane/proxy/script.h"

namespace sipd::control {
namespace {

const char* state_name(ProgramService::State s) {
  switch (s) {
    case ProgramService::State::None:
      return "none";
    case ProgramService::State::Installing:
      return "installing";
    case ProgramService::State::Installed:
      return "installed";
    case ProgramService::State::Refused:
      return "refused";
    case ProgramService::State::TimedOut:
      return "timed out";
  }
  return "?";
}

}  // namespace

ProgramService::ProgramService(shm::Segment& segment, const config::Appliance& app, std::string active_file,
                               std::function<int64_t()> now_us)
    : segment_(segment), app_(app), active_file_(std::move(active_file)), now_us_(std::move(now_us)) {
  generation_ = segment_.header().programs.generation.load(std::memory_order_acquire);
}

bool ProgramService::push(const std::string& file, std::string_view text, MiError& error) {
  if (state_ == State::Installing) {
    error = {kMiServerBusy,
             "a push is still being installed (generation " + std::to_string(generation_) +
                 "): try again once config_status says it is done",
             {}};
    return false;
  }
  const config::SourceFile source(file, std::string(text));
  config::Diagnostics diags;
  auto program = std::make_unique<config::Program>(proxy::appliance_program(source, app_, diags));
  if (!diags.ok()) {
    error = {400, "the script does not compile; nothing changed", diags.render(source)};
    return false;
  }
  if (on_check_) {
    if (const std::string why = on_check_(*program); !why.empty()) {
      error = {400, why + "; nothing changed", {}};
      return false;
    }
  }
  const std::string blob = config::serialize_program(*program);
  if (blob.size() > shm::kProgramBytes) {
    error = {400,
             "the compiled program takes " + std::to_string(blob.size()) +
                 " bytes; the segment's program slot holds " + std::to_string(shm::kProgramBytes) +
                 "; nothing changed",
             {}};
    return false;
  }
  shm::Header& header = segment_.header();
  shm::ProgramArea& area = header.programs;
  const uint64_t generation = area.generation.load(std::memory_order_acquire) + 1;
  const std::span<char> slot = segment_.program_slot(uint32_t(generation & 1));
  std::memcpy(slot.data(), blob.data(), blob.size());
  area.length[generation & 1].store(blob.size(), std::memory_order_relaxed);
  area.generation.store(generation, std::memory_order_release);
  generation_ = generation;
  published_us_ = now_us_();
  latency_us_ = -1;
  workers_ = header.dataplane.pid.load(std::memory_order_relaxed) != 0
                 ? std::min(header.active_workers.load(std::memory_order_relaxed), shm::kMaxWorkers)
                 : 0;
  pending_file_ = file;
  pending_text_ = std::string(text);
  pending_ = std::move(program);
  outcome_.clear();
  state_ = State::Installing;
  (void)poll();  // without a dataplane it is done at once
  return true;
}

bool ProgramService::all_answered(bool& refused) const {
  const shm::ProgramArea& area = segment_.header().programs;
  refused = false;
  for (uint32_t w = 0; w < workers_; ++w) {
    if (area.refused[w].load(std::memory_order_acquire) == generation_) {
      refused = true;
      continue;
    }
    if (area.installed[w].load(std::memory_order_acquire) != generation_) return false;
  }
  return true;
}

bool ProgramService::poll() {
  if (state_ != State::Installing) return false;
  const shm::Header& header = segment_.header();
  const shm::ProgramArea& area = header.programs;
  bool refused = false;
  // A dataplane that stopped meanwhile installs the published program when it starts again.
  const bool dataplane_gone = header.dataplane.pid.load(std::memory_order_relaxed) == 0;
  if (!dataplane_gone && !all_answered(refused)) {
    if (now_us_() - published_us_ < kTimeoutUs) return false;
    uint32_t answered = 0;
    for (uint32_t w = 0; w < workers_; ++w)
      if (area.installed[w].load() == generation_ || area.refused[w].load() == generation_) ++answered;
    state_ = State::TimedOut;
    outcome_ = std::to_string(answered) + " of " + std::to_string(workers_) + " workers answered within " +
               std::to_string(kTimeoutUs / 1000000) + " s";
    pending_.reset();
    return true;
  }
  latency_us_ = now_us_() - published_us_;
  if (refused) {
    state_ = State::Refused;
    for (uint32_t w = 0; w < workers_; ++w)
      if (area.refused[w].load(std::memory_order_acquire) == generation_)
        outcome_ += (outcome_.empty() ? "" : "; ") + std::string("worker ") + std::to_string(w) + ": " +
                    std::string(area.why[w], strnlen(area.why[w], sizeof area.why[w]));
    pending_.reset();
    return true;
  }
  std::string error;
  if (!proxy::keep_pushed_script(app_, pending_file_, pending_text_, error))
    outcome_ = "every worker runs it, but it was not kept for a restart: " + error;
  active_file_ = pending_file_;
  if (on_installed_) on_installed_(*pending_);
  state_ = State::Installed;
  pending_.reset();
  return true;
}

Json ProgramService::status() const {
  const shm::ProgramArea& area = segment_.header().programs;
  Json out = Json::object();
  out.set("generation", generation_);
  out.set("state", state_name(state_));
  out.set("file", active_file_);
  if (latency_us_ >= 0) out.set("latency_us", latency_us_);
  if (!outcome_.empty()) out.set("message", outcome_);
  Json workers = Json::array();
  for (uint32_t w = 0; w < workers_; ++w) {
    Json one = Json::object();
    one.set("worker", w);
    one.set("runs", area.installed[w].load(std::memory_order_acquire));
    if (area.refused[w].load(std::memory_order_acquire) == generation_)
      one.set("refused", std::string(area.why[w], strnlen(area.why[w], sizeof area.why[w])));
    workers.push(std::move(one));
  }
  out.set("workers", std::move(workers));
  return out;
}

void ProgramService::add_commands(CommandTable& table) {
  table.add("config_push", MiSignature{{"file", "text"}, 2}, [this](const Json& params, MiError& error) {
    const Json* file = params.find("file");
    const Json* text = params.find("text");
    if (!file || !file->is_string() || !text || !text->is_string())
      return mi_fail(error, kMiInvalidParams, "config_push takes a file name and the script's text");
    if (!push(std::string(file->as_string()), text->as_string(), error)) return Json();
    return status();
  });
  table.describe("config_push", "compiles a script (file, text) and switches every worker to it", "sipd");
  table.add("config_status", MiSignature{{}, 0}, [this](const Json&, MiError&) { return status(); });
  table.describe("config_status", "the running script, its generation and what each worker runs", "sipd");
  table.add("reload_routes", MiSignature{{}, 0}, [this](const Json&, MiError& error) {
    std::string text;
    if (!config::read_file(active_file_, text))
      return mi_fail(error, 500, "cannot read the active script " + active_file_ + "; nothing changed");
    if (!push(active_file_, text, error)) return Json();
    return Json("OK");
  });
  table.describe("reload_routes", "re-reads the running script's file and switches every worker to it",
                 "core");
}

}  // namespace sipd::control
