// libFuzzer target for strings with pseudo-variables (xlog's text, a function's string argument): any bytes,
// written as a script's string literal, are split, checked and compiled without crashing, and what
// compiles runs over an INVITE: each read, index and transformation of the format, the parts copied
// contiguously into the run's arena, never past it. A string without a '$' comes out as it went in.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/program.h"
#include "config/pvar.h"
#include "dataplane/engine/vm.h"
#include "dataplane/sip/message.h"

namespace {

struct Capture : sipd::engine::Host {
  std::vector<std::string> lines;
  void log(int, std::string_view text) override { lines.emplace_back(text); }
};

constexpr std::string_view kInvite =
    "INVITE sip:alice@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bK-1\r\n"
    "Via: SIP/2.0/UDP 198.18.0.9;branch=z9hG4bK-0\r\nMax-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@opensips.org>;tag=a1\r\nTo: <sip:bob@198.18.0.1>\r\n"
    "Call-ID: fuzz@198.18.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@198.18.0.2:5062>;q=0.5, <sip:a@b>\r\n"
    "Content-Length: 0\r\n\r\n";

// The bytes as the inside of a double-quoted script string.
std::string quoted(std::string_view in) {
  std::string out;
  for (char c : in) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\r') {
      out += "\\r";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sipd;
  if (size > 4096) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The splitter alone: every piece lies inside the text.
  std::vector<config::FormatPiece> pieces;
  std::string why;
  size_t at = 0;
  if (config::split_format(text, pieces, why, at)) {
    for (const config::FormatPiece& p : pieces)
      if (p.offset > size || (p.is_pvar && p.offset + p.pvar.length > size)) std::abort();
  } else if (at > size) {
    std::abort();
  }
  const std::string script =
      "loadmodule \"sipmsgops.so\"\nroute {\n  $var(a) = \"x y z\";\n  $var(n) = 2;\n  $avp(l) = 1;\n"
      "  $avp(l) = \"two\";\n  xlog(\"" +
      quoted(text) + "\");\n  append_hf(\"X-F: " + quoted(text) + "\\r\\n\");\n}\n";
  const config::SourceFile file("fuzz.cfg", script);
  config::Diagnostics diags;
  const config::Program program = config::compile_source(file, diags);
  for (const config::Diagnostic& d : diags.all())
    if (d.pos.line > file.line_count()) std::abort();
  (void)diags.render(file);
  if (!diags.ok()) return 0;
  static sip::Message msg;
  if (msg.parse(kInvite) != sip::Defect::None) std::abort();
  Capture host;
  engine::Vm vm(host);
  static engine::VmState st;
  engine::Context ctx;
  ctx.msg = &msg;
  ctx.src_ip = "198.18.0.2";
  ctx.src_port = 5062;
  ctx.dst_ip = "198.18.0.1";
  ctx.dst_port = 5060;
  sip::EditList edits(msg);
  ctx.edits = &edits;
  const engine::RunStatus status = vm.run(program, 0, ctx, st);
  if (st.arena_used > st.arena.size()) std::abort();
  if (status == engine::RunStatus::Exit && !st.error) {
    if (host.lines.size() != 1) std::abort();
    if (!config::has_pvars(text) && text.find("$$") == std::string::npos && host.lines[0] != text)
      std::abort();
  }
  return 0;
}
