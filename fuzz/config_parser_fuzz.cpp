// libFuzzer target for the routing-script front end: any bytes parse and check (names resolved against
// the registry, regexes compiled) without crashing, hanging or recursing without bound, and every
// diagnostic points inside the input and renders.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/checker.h"
#include "config/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sipd::config;
  const SourceFile file("fuzz.cfg", std::string(reinterpret_cast<const char*>(data), size));
  Diagnostics diags;
  const Script script = parse_script(file, diags);
  (void)check_script(file, script, diags);
  for (const Route& r : script.routes)
    if (r.offset > size || r.end > size) std::abort();
  for (const Diagnostic& d : diags.all())
    if (d.pos.offset > size || d.pos.line > file.line_count()) std::abort();
  (void)diags.render(file);
  return 0;
}
