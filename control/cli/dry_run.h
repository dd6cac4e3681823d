// `sipctl config test`: a dry run of a routing script over a short exchange of messages, for operators.
// It drives the same proxy and transaction code as the dataplane — a capturing sender instead of the
// port, a fake clock — and prints every log line, every function the script called with what it
// returned, and every datagram that would leave (the relayed request with sipd's Via and Record-Route,
// replies, CANCELs, ACKs), then what became of each message. Only what truly lies outside is stood in
// for, and labelled: functions whose answer comes from the control process or that this build does not
// have (answered with --answer's value, 1 by default). Touches no network.
//
// Who calls: sipctl. Single-threaded.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace sipd::cli {

struct DryRunMessage {
  std::string path;
  std::string src;  // "IP:PORT"; "" for a response: it comes from where sipd last sent a request
};

struct DryRunOptions {
  std::string script_path;
  std::vector<DryRunMessage> messages;
  std::string proto = "udp";
  std::map<std::string, long> answers;  // --answer lookup=-1: what a stood-in function returns
  unsigned advance_ms = 0;              // --advance: the clock runs on this long after the last message
};

// Prints to stdout; problems with the inputs to stderr. Exit status: 0 ran, 1 the script has errors or
// the run failed, 2 unreadable inputs or bad options.
int dry_run(const DryRunOptions& options);

}  // namespace sipd::cli
