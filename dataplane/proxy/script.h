// The routing program an appliance runs, made from a script's text the same way by both processes: the
// dataplane when it starts, control when an operator pushes a script (sipctl config push, reload_routes).
// Compiled, checked against the appliance settings, refused when it calls a function this build has no
// body for on the worker, and with the port's address and SIP port in `myself`.
#pragma once

#include <string>
#include <string_view>

#include "config/appliance.h"
#include "config/ast.h"
#include "config/program.h"
#include "config/source.h"

namespace sipd::proxy {

// `diags` holds every error (FILE:LINE:COL) when the program cannot run here; the program is then not to be
// used.
config::Program appliance_program(const config::SourceFile& file, const config::Appliance& app,
                                  config::Diagnostics& diags, config::Script* ast = nullptr);
// Whether the script loads `module` ("mi_fifo" for loadmodule "mi_fifo.so" or ".../mi_fifo.so").
bool loads_module(const config::Script& ast, std::string_view module);

// The script the appliance runs: the last one every worker took from a push, kept in the state directory
// (STATE_DIR/script.cfg, with the file name it was pushed from in STATE_DIR/script.path), else the appliance
// settings' `script`. False (with the reason) when the file cannot be read.
struct ActiveScript {
  std::string file;  // for diagnostics and reload_routes
  std::string text;
  bool pushed = false;
};
bool active_script(const config::Appliance& app, ActiveScript& out, std::string& error);
// Keeps a pushed script in the state directory; each file is written whole and renamed over the old, so a
// crash leaves the last script or this one.
bool keep_pushed_script(const config::Appliance& app, const std::string& file, std::string_view text,
                        std::string& error);

}  // namespace sipd::proxy
