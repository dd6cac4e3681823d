#include "control/cli/dry_run.h"

#include <cstdio>
#include <cstdlib>

#include "config/program.h"
#include "dataplane/engine/vm.h"
#include "dataplane/sip/builder.h"
#include "dataplane/sip/reply.h"
#include "dataplane/sip/validate.h"

namespace sipd::cli {
namespace {

std::string escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else
      out += c;
  }
  return out;
}

// Prints what the script does and remembers the last decision.
class PrintingHost : public engine::Host {
 public:
  std::string verdict = "no decision (the script ended without forwarding, relaying or replying)";
  uint16_t reply_code = 0;  // the last reply the script sent statelessly or statefully
  std::string reply_reason;

  void log(int level, std::string_view text) override {
    std::printf("log[%d]: %.*s%s", level, int(text.size()), text.data(), text.ends_with('\n') ? "" : "\n");
  }

  static int64_t stand_in(engine::Call& c) {
    return static_cast<PrintingHost*>(c.self)->call(c.fn, c.args, c.st);
  }
  int64_t call(const config::FunctionSpec& fn, std::span<const engine::Value> args, engine::VmState& st) {
    std::string shown = std::string(fn.name) + "(";
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string a = escaped(engine::to_text(st, args[i]));
      shown += (i ? ", " : "") + (args[i].kind == engine::Value::Kind::Str ? "\"" + a + "\"" : a);
    }
    shown += ")";
    if (fn.effect == config::Effect::Suspend) {
      std::printf(
          "suspend: %s: the answer comes from the control process; the dry run answers 1 and goes on\n",
          shown.c_str());
      return kSuspend;
    }
    std::printf("call: %s\n", shown.c_str());
    decide(fn.name, args, st, shown);
    return 1;
  }

 private:
  void decide(std::string_view name, std::span<const engine::Value> args, engine::VmState& st,
              const std::string& shown) {
    const std::string dest = !st.dst_uri.empty()    ? std::string(st.dst_uri) + " ($du)"
                             : !st.new_ruri.empty() ? std::string(st.new_ruri) + " (R-URI)"
                                                    : "the Request-URI";
    if (name == "forward")
      verdict = "forwarded statelessly to " + (args.empty() ? dest : shown);
    else if (name == "t_relay")
      verdict = "relayed statefully to " + dest;
    else if (name == "sl_send_reply" || name == "send_reply" || name == "t_reply") {
      reply_reason = args.size() > 1 ? std::string(engine::to_text(st, args[1])) : std::string();
      reply_code = uint16_t(std::atoi(std::string(engine::to_text(st, args[0])).c_str()));
      verdict = "replied " + std::string(engine::to_text(st, args[0])) + " " + reply_reason;
    } else if (name == "sl_reply_error")
      verdict = "replied with the error of the last failed function";
  }
};

}  // namespace

int dry_run(const DryRunOptions& opt) {
  std::string script_text, message;
  if (!config::read_file(opt.script_path, script_text)) {
    std::fprintf(stderr, "sipctl: cannot read %s\n", opt.script_path.c_str());
    return 2;
  }
  if (!config::read_file(opt.message_path, message)) {
    std::fprintf(stderr, "sipctl: cannot read %s\n", opt.message_path.c_str());
    return 2;
  }
  const size_t colon = opt.src.rfind(':');
  if (colon == std::string::npos || (opt.proto != "udp" && opt.proto != "tcp" && opt.proto != "tls")) {
    std::fprintf(stderr, "sipctl: --src takes IP:PORT and --proto udp, tcp or tls\n");
    return 2;
  }
  const config::SourceFile file(opt.script_path, script_text);
  config::Diagnostics diags;
  const config::Program program = config::compile_source(file, diags);
  std::fputs(diags.render(file).c_str(), stderr);
  if (!diags.ok()) return 1;
  if (program.routes.empty() || program.routes[0].kind != config::RouteKind::Request ||
      !program.routes[0].name.empty()) {
    std::fprintf(stderr, "%s: the script has no main route\n", opt.script_path.c_str());
    return 1;
  }

  static sip::Message msg;  // about 10 KB: not on the stack
  const sip::Framing framing = opt.proto == "udp" ? sip::Framing::Datagram : sip::Framing::Stream;
  const sip::Verdict v = sip::validate(msg, msg.parse(message, framing));
  if (v.action != sip::Action::Accept) {
    std::printf("verdict: the message core %s before the script runs (%s)\n",
                v.action == sip::Action::Drop ? "drops it" : ("answers " + std::to_string(v.status)).c_str(),
                std::string(v.reason.empty() ? sip::defect_info(v.defect).reason : v.reason).c_str());
    return 0;
  }

  sip::EditList edits(msg);
  engine::Context ctx;
  ctx.msg = &msg;
  ctx.edits = &edits;
  const std::string src_ip = opt.src.substr(0, colon);
  ctx.src_ip = src_ip;
  ctx.src_port = uint16_t(std::stoi(opt.src.substr(colon + 1)));
  ctx.dst_ip = "198.18.0.1";
  ctx.dst_port = 5060;
  ctx.transport = opt.proto == "udp"   ? engine::Transport::Udp
                  : opt.proto == "tcp" ? engine::Transport::Tcp
                                       : engine::Transport::Tls;
  ctx.ipv6 = src_ip.find(':') != std::string::npos;

  PrintingHost host;
  engine::Vm vm(host);
  vm.bind_unbound(PrintingHost::stand_in, &host);
  static engine::VmState state;
  engine::RunStatus status = vm.run(program, 0, ctx, state);
  while (status == engine::RunStatus::Suspended) status = vm.resume(ctx, state, 1);
  switch (status) {
    case engine::RunStatus::Drop:
      std::printf("verdict: dropped by the script\n");
      break;
    case engine::RunStatus::Error:
      std::printf("verdict: the run failed: %s\n", state.error ? state.error : "?");
      break;
    default:
      std::printf("verdict: %s\n", host.verdict.c_str());
      break;
  }
  for (uint8_t i = 0; i < state.reply_header_count; ++i)
    std::printf("reply header (append_to_reply): %s\n", escaped(state.reply_headers[i]).c_str());
  if (state.acc) {
    std::string armed;
    for (const auto& [bit, word] : {std::pair{engine::VmState::kAccLog, "log"},
                                    {engine::VmState::kAccDb, "db"},
                                    {engine::VmState::kAccMissed, "missed"},
                                    {engine::VmState::kAccFailed, "failed"},
                                    {engine::VmState::kAccCdr, "cdr"}})
      if (state.acc & bit) armed += std::string(armed.empty() ? "" : "|") + word;
    std::printf("accounting armed for the transaction: %s\n", armed.c_str());
  }
  std::string out(sip::Message::kMaxSize + 4096, '\0');
  if (host.reply_code) {
    char tag[16];
    sip::ReplyOptions ro;
    ro.code = host.reply_code;
    ro.reason = host.reply_reason;
    ro.to_tag = sip::stateless_to_tag(msg, 0, tag);
    ro.received_ip = ctx.src_ip;
    ro.received_port = ctx.src_port;
    ro.extra = std::span<const std::string_view>(state.reply_headers.data(), state.reply_header_count);
    const sip::BuildResult r = sip::build_reply(msg, ro, out.data(), out.size());
    if (!r.ok()) {
      std::printf("(the reply could not be built: the request has no usable Via)\n");
      return 1;
    }
    out.resize(r.size);
    std::printf("--- the reply as it would leave ---\n%s", out.c_str());
    return 0;
  }
  const sip::BuildResult built = edits.build(out.data(), out.size());
  if (!built.ok()) {
    std::printf("(the edited message could not be built)\n");
    return 1;
  }
  out.resize(built.size);
  std::printf("--- the message as it would leave ---\n%s", out.c_str());
  if (!out.ends_with("\n")) std::printf("\n");
  return 0;
}

}  // namespace sipd::cli
