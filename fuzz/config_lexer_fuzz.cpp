// libFuzzer target for the routing-script lexer: any bytes lex to the end without crashing or looping,
// tokens advance monotonically inside the input, and every diagnostic points inside it and renders.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/lexer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sipd::config;
  const SourceFile file("fuzz.cfg", std::string(reinterpret_cast<const char*>(data), size));
  Diagnostics diags;
  Lexer lexer(file, diags);
  uint32_t last = 0;
  bool raw = false;
  for (size_t n = 0;; ++n) {
    // Alternate in raw global values now and then, as the parser does after `name =`.
    const Token t = raw ? lexer.raw_value() : lexer.next();
    raw = t.kind == Tok::Assign && (n % 3 == 0);
    if (t.begin < last || t.end > size || t.begin > t.end) std::abort();
    last = t.begin;
    if (t.kind == Tok::End) break;
    if (n > size + 1) std::abort();  // every token consumes input
  }
  for (const Diagnostic& d : diags.all())
    if (d.pos.offset > size || d.pos.line > file.line_count()) std::abort();
  (void)diags.render(file);
  return 0;
}
