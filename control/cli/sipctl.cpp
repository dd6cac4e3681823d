// sipctl: the operator's command line for sipd. For now it checks and dry-runs routing scripts:
//
//   sipctl config check FILE [--appliance APPLIANCE.conf]
//                                every error with FILE:LINE:COL and a caret, or a one-line summary; with
//                                the appliance settings, listen= lines must name the appliance's address
//   sipctl config test FILE [--src IP:PORT] --message MSG [[--src IP:PORT] --message MSG2 ...]
//                          [--answer FUNCTION=N ...] [--advance MS]
//                                runs the messages (bytes as on the wire; a response answers the request
//                                sipd last sent) through the dataplane's own proxy and transaction code and
//                                prints every log line, every function called and what it returned, every
//                                datagram that would leave, and what became of each message. Functions this
//                                build has no body for are stood in for (answering N, 1 by default) and
//                                labelled. No network.
//
// Exit status: 0 when the script is valid, 1 when it has errors, 2 on a usage error. The control-plane
// issue adds the commands that talk to a running sipd (config push/test, stats, ul show...).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/appliance.h"
#include "config/checker.h"
#include "config/parser.h"
#include "control/cli/dry_run.h"

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: sipctl config check FILE [--appliance APPLIANCE.conf]\n"
      "         check a routing script: prints every error, or a summary of its routes and modules\n"
      "       sipctl config test FILE [--src IP:PORT] --message MSG [[--src IP:PORT] --message MSG ...]\n"
      "                          [--answer FUNCTION=N ...] [--advance MS]\n"
      "         dry-run the script over messages: log lines, calls and results, every datagram sipd\n"
      "         would send, what became of each message\n");
  return 2;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

int config_check(const char* path, const char* appliance_path) {
  std::string text;
  if (!sipd::config::read_file(path, text)) {
    std::fprintf(stderr, "sipctl: cannot read %s\n", path);
    return 2;
  }
  const sipd::config::SourceFile file(path, std::move(text));
  sipd::config::Diagnostics diags;
  const sipd::config::CheckSummary summary = sipd::config::compile_check(file, diags);
  if (appliance_path) {
    sipd::config::Appliance appliance;
    std::string error;
    if (!sipd::config::load_appliance(appliance_path, appliance, error)) {
      std::fprintf(stderr, "sipctl: %s\n", error.c_str());
      return 2;
    }
    sipd::config::Diagnostics ignored;  // compile_check has reported the script's own errors
    const sipd::config::Script ast = sipd::config::parse_script(file, ignored);
    sipd::config::check_against_appliance(file, ast, appliance, diags);
  }
  std::fputs(diags.render(file).c_str(), stderr);
  if (!diags.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", path, diags.error_count());
    return 1;
  }
  std::printf("%s: OK: %zu route(s) (%s); %zu module(s) (%s)\n", path, summary.routes.size(),
              join(summary.routes).c_str(), summary.modules.size(), join(summary.modules).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if ((argc == 4 || (argc == 6 && std::string_view(argv[4]) == "--appliance")) &&
      std::string_view(argv[1]) == "config" && std::string_view(argv[2]) == "check")
    return config_check(argv[3], argc == 6 ? argv[5] : nullptr);
  if (argc >= 4 && std::string_view(argv[1]) == "config" && std::string_view(argv[2]) == "test") {
    sipd::cli::DryRunOptions opt;
    opt.script_path = argv[3];
    std::string src;  // --src applies to the --message options after it
    for (int i = 4; i < argc; i += 2) {
      if (i + 1 >= argc) return usage();
      const std::string_view flag = argv[i];
      const std::string value = argv[i + 1];
      if (flag == "--message") {
        opt.messages.push_back({value, src});
      } else if (flag == "--src") {
        src = value;
      } else if (flag == "--proto") {
        opt.proto = value;
      } else if (flag == "--advance") {
        opt.advance_ms = unsigned(std::strtoul(value.c_str(), nullptr, 10));
      } else if (flag == "--answer") {
        const size_t eq = value.find('=');
        if (eq == std::string::npos || eq == 0) return usage();
        opt.answers[value.substr(0, eq)] = std::strtol(value.c_str() + eq + 1, nullptr, 10);
      } else {
        return usage();
      }
    }
    if (opt.messages.empty()) return usage();
    // A --src after the last --message (the older `--message MSG --src IP:PORT` order) gives their source
    // to the messages before it that have none.
    if (!src.empty() && std::string_view(argv[argc - 2]) == "--src")
      for (sipd::cli::DryRunMessage& m : opt.messages)
        if (m.src.empty()) m.src = src;
    return sipd::cli::dry_run(opt);
  }
  return usage();
}
