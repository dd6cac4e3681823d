// The semantic pass over a parsed routing script: every name resolved against the registry (globals,
// modules, module parameters, functions, pseudo-variables, transformations, keywords), argument counts and
// types, functions used in a route type that does not allow them, routes called but not defined, flags
// out of range, regexes that cannot compile, `break` outside switch/while. Every problem of a file in one
// run, each at its FILE:LINE:COL with a "did you mean" where a close name exists.
//
// Who calls: the config compiler, `sipctl config check`. Single-threaded.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "config/ast.h"
#include "config/registry.h"
#include "config/source.h"

namespace sipd::config {

struct CheckSummary {
  std::vector<std::string> routes;   // "route", "route[1]", "failure_route[missed]"...
  std::vector<std::string> modules;  // loaded, in order, without path and ".so"
};

struct CheckOptions {
  // A module, function or setting with no implementation in this build is an error: the dataplane refuses
  // the script. The dry run (sipctl config test) makes them warnings and stands in for them, labelled.
  bool refuse_unimplemented = true;
};

CheckSummary check_script(const SourceFile& file, const Script& script, Diagnostics& diags,
                          const CheckOptions& options = {});

// Parses and checks `file` in one go.
CheckSummary compile_check(const SourceFile& file, Diagnostics& diags, const CheckOptions& options = {});

// The modules of `loaded` (names without ".so") a modparam's module field names: OpenSIPS reads it as an
// extended regular expression over the whole name, without regard to case ("auth_db|usrloc", "tm").
std::vector<std::string> modules_matching(std::string_view pattern, const std::vector<std::string>& loaded);

// "save() (registrar) has no implementation in this build: ..." for a function whose Impl is not Worker.
std::string unimplemented_message(const FunctionSpec& fn);
// The functions of Impl::Control that sipd-control answers in this build (the worker suspends on them);
// the checker refuses the others.
std::span<const std::string_view> control_answers();
bool answered_by_control(std::string_view name);

}  // namespace sipd::config
