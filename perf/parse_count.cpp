// Instruction counter for the parser: parses one of the typical messages N times, with or without
// validate(), so `valgrind --tool=callgrind` can count instructions per message. Unlike wall time, the
// count repeats exactly from run to run on a shared machine. perf/instructions.sh drives it.
//
// usage: parse_count MESSAGE N full|parse     (MESSAGE: invite ok200 register ack bye)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dataplane/sip/message.h"
#include "dataplane/sip/validate.h"
#include "perf/messages.h"

int main(int argc, char** argv) {
  using namespace sipd::sip;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s invite|ok200|register|ack|bye N full|parse\n", argv[0]);
    return 2;
  }
  const std::string* msg = std::strcmp(argv[1], "ok200") == 0      ? &k200
                           : std::strcmp(argv[1], "register") == 0 ? &kRegister
                           : std::strcmp(argv[1], "ack") == 0      ? &kAck
                           : std::strcmp(argv[1], "bye") == 0      ? &kBye
                                                                   : &kInvite;
  const long n = std::atol(argv[2]);
  const bool full = std::strcmp(argv[3], "full") == 0;
  static Message m;
  int accepted = 0;
  for (long i = 0; i < n; ++i) {
    const Defect d = m.parse(*msg);
    accepted += full ? validate(m, d).action == Action::Accept : d == Defect::None;
  }
  std::printf("%s: %d of %ld accepted, %zu bytes\n", argv[1], accepted, n, msg->size());
  return accepted == n ? 0 : 1;
}
