// Test scaffolding for running scripts in the engine: a Host that records log lines and every call of a
// function the engine has no body for (bound in their place, as the proxy's actions or the control
// process's answers would be), a Vm with that stand-in bound, and a script compiled from text.
#pragma once

#include <string>
#include <vector>

#include "config/checker.h"
#include "config/parser.h"
#include "config/program.h"
#include "dataplane/engine/vm.h"

namespace sipd::engine::test {

struct RecordingHost : Host {
  std::vector<std::string> logs;
  std::vector<std::string> calls;  // "name(arg1,arg2)"; a null argument shows as NULL
  std::string suspend_on;          // a function name that suspends
  int64_t result = 1;

  void log(int, std::string_view text) override { logs.emplace_back(text); }
  static int64_t record(Call& c) {
    RecordingHost& h = *static_cast<RecordingHost*>(c.self);
    std::string text = std::string(c.fn.name) + "(";
    for (size_t i = 0; i < c.args.size(); ++i)
      text += (i ? "," : "") +
              (c.args[i].is_null() ? std::string("NULL") : std::string(to_text(c.st, c.args[i])));
    h.calls.push_back(text + ")");
    return c.fn.name == h.suspend_on ? kSuspend : h.result;
  }
};

// A Vm with the recording stand-in for every function the engine has no body for.
struct TestVm : Vm {
  explicit TestVm(RecordingHost& h) : Vm(h) { bind_unbound(RecordingHost::record, &h); }
};

struct Script {
  config::SourceFile file;
  config::Diagnostics diags;
  config::Program program;

  // `stand_ins`: functions this build has no body for are allowed (the test binds stand-ins for them).
  explicit Script(const std::string& text, bool stand_ins = false) : file("test.cfg", text) {
    const config::Script ast = config::parse_script(file, diags);
    config::check_script(file, ast, diags, config::CheckOptions{.refuse_unimplemented = !stand_ins});
    program = config::compile_program(file, ast, diags);
  }
};

}  // namespace sipd::engine::test
