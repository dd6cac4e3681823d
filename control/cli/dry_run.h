// `sipctl config test`: a dry run of a routing script over one message, for operators. Parses, checks and
// compiles the script, parses the message as the dataplane would, runs the main route with a Host that
// prints what the script does, answers suspensions with a default result and goes on, then prints the
// verdict and the message after the script's edits. Touches no network.
//
// Who calls: sipctl. Single-threaded.
#pragma once

#include <string>

namespace sipd::cli {

struct DryRunOptions {
  std::string script_path;
  std::string message_path;
  std::string src = "198.18.0.2:5060";
  std::string proto = "udp";
};

// Prints to stdout; problems with the inputs to stderr. Exit status: 0 ran, 1 the script has errors or
// the run failed, 2 unreadable inputs or bad options.
int dry_run(const DryRunOptions& options);

}  // namespace sipd::cli
