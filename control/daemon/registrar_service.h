// save() as control answers it: the REGISTER a worker's script suspended on goes through the registrar's
// decision (control/registrar), its changes into the location service, and the reply back to the worker —
// once the changes are durable when usrloc writes through. The script resumes with save()'s result.
//
// Who calls: sipd-control's main thread (a Questions handler).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config/program.h"
#include "control/daemon/questions.h"
#include "control/daemon/usrloc.h"
#include "control/registrar/registrar.h"

namespace sipd::control {

// registrar's and usrloc's modparams of a compiled script.
registrar::Settings registrar_settings(const config::Program& program);

struct RegistrarCounters {
  uint64_t saved = 0, refused = 0,
           failed = 0;  // answered 2xx; 4xx/5xx from the decision; table or db failure
};

class RegistrarService {
 public:
  // `socket` is the local socket text stored with each binding ("udp:198.18.0.1:5060"); `now` the wall clock
  // in seconds.
  RegistrarService(LocationService& location, const registrar::Settings& settings, std::string socket,
                   std::function<int64_t()> now);
  void save(const Asked& question, Answer answer);
  // A pushed script's registrar modparams, from the next REGISTER on.
  void set_settings(const registrar::Settings& settings) { settings_ = settings; }
  const registrar::Settings& settings() const { return settings_; }
  const RegistrarCounters& counters() const { return counters_; }

 private:
  LocationService& location_;
  registrar::Settings settings_;
  std::string socket_;
  std::function<int64_t()> now_;
  RegistrarCounters counters_;
  std::vector<registrar::Binding> current_;  // the AOR's bindings, reused from REGISTER to REGISTER
};

}  // namespace sipd::control
