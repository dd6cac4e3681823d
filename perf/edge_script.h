// The typical edge script of issue 3 and 14 (Max-Forwards check, a switch on the method, a regex on the From
// URI, two transformations, flag operations, a sub-route, a header add, an R-URI rewrite), and the program
// compiled from it: what perf/engine_bench.cpp times and perf/engine_count.cpp counts instructions of.
#pragma once

#include <stdexcept>

#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"

namespace sipd::perf {

inline const char* kEdgeScript = R"(
loadmodule "signaling.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"

route {
  if (!mf_process_maxfwd_header(70)) {
    sl_send_reply(483, "Too Many Hops");
    exit;
  }
  switch ($rm) {
  case "INVITE":
    setflag(3);
    break;
  case "REGISTER":
    sl_send_reply(403, "Not Here");
    exit;
  default:
    setflag(4);
  }
  if (from_uri =~ "^sip:[a-z]+@atlanta\.com") {
    $var(user) = $ru{uri.user};
    $var(len) = $var(user){s.len};
    route(rewrite);
  }
  if (isflagset(3)) {
    append_hf("X-Edge: sipd\r\n");
  }
  t_relay();
}

route[rewrite] {
  if ($var(len) > 2) {
    $ru = "sip:bob@198.18.0.2:5060";
  }
  return(1);
}
)";

// Throws with the diagnostics when the script does not compile (it always should).
inline config::Program edge_program() {
  const config::SourceFile file("edge.cfg", kEdgeScript);
  config::Diagnostics diags;
  const config::Script ast = config::parse_script(file, diags);
  config::check_script(file, ast, diags);
  config::Program program = config::compile_program(file, ast, diags);
  if (!diags.ok()) throw std::runtime_error(diags.render(file));
  return program;
}

}  // namespace sipd::perf
