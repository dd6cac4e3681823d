// The proxy outcome of every RFC 4475 message (../shared/testdata/rfc4475/EXPECTED.md, proxy column), as the
// message core decides it before any routing: shared by the in-process test (tests/sip/rfc4475_test.cpp)
// and the on-the-wire run (tests/e2e/wire_driver.cpp). Choices where the RFC allows either are explained
// in rfc4475_test.cpp.
#pragma once

#include <cstdint>
#include <ostream>

#include "dataplane/sip/validate.h"

namespace sipd::test {

struct Rfc4475Case {
  const char* file;
  sip::Action action;
  uint16_t status;  // for Reply
};

inline constexpr sip::Action A = sip::Action::Accept, R = sip::Action::Reply, D = sip::Action::Drop;

inline constexpr Rfc4475Case kRfc4475Cases[] = {
    // 3.1.1 valid messages
    {"wsinv", A, 0},
    {"intmeth", A, 0},
    {"esc01", A, 0},
    {"escnull", A, 0},
    {"esc02", A, 0},
    {"lwsdisp", A, 0},
    {"longreq", A, 0},
    {"dblreq", A, 0},
    {"semiuri", A, 0},
    {"transports", A, 0},
    {"mpart01", A, 0},
    {"unreason", A, 0},
    {"noreason", A, 0},
    // 3.1.2 invalid messages
    {"badinv01", R, 400},
    {"clerr", R, 400},
    {"ncl", R, 400},
    {"scalar02", R, 400},
    {"scalarlg", D, 0},
    {"quotbal", R, 400},
    {"ltgtruri", R, 400},
    {"lwsruri", R, 400},
    {"lwsstart", R, 400},
    {"trws", R, 400},
    {"escruri", R, 400},
    {"baddate", A, 0},
    {"regbadct", R, 400},
    {"badaspec", R, 400},
    {"baddn", R, 400},
    {"badvers", R, 505},
    {"mismatch01", R, 400},
    {"mismatch02", R, 501},
    {"bigcode", D, 0},
    // 3.2 transaction layer
    {"badbranch", A, 0},
    // 3.3 application layer
    {"insuf", R, 400},
    {"unkscm", R, 416},
    {"novelsc", R, 416},
    {"unksm2", A, 0},
    {"bext01", R, 420},
    {"invut", A, 0},
    {"regaut01", A, 0},
    {"multi01", R, 400},
    {"mcl01", R, 400},
    {"bcast", A, 0},
    {"zeromf", A, 0},
    {"cparam01", A, 0},
    {"cparam02", A, 0},
    {"regescrt", A, 0},
    {"sdp01", A, 0},
    // 3.4 backward compatibility
    {"inv2543", A, 0},
    // not referenced by the RFC: a request line without a version
    {"test", R, 400},
};

// GoogleTest names parameterized cases by file.
inline void PrintTo(const Rfc4475Case& c, std::ostream* os) { *os << c.file; }

}  // namespace sipd::test
