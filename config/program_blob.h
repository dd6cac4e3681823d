// A compiled Program as bytes, so the process that compiles (sipd-control, or the dataplane before the
// control process exists) can ship it to the workers: a magic and format version, the registry hash the
// program was compiled against (functions travel as registry indices), then the code, constants, variable
// names, transformations, the constant regexes with their compiled Hyperscan databases (in Hyperscan's own
// serialization; each worker deserializes them once) and routes. Loading checks everything it reads —
// sizes, the registry hash, and every operand against the tables it indexes — so a damaged or foreign blob
// is refused, never run; a regex database that does not deserialize never matches.
//
// Who calls: the compiler's owner (serialize) and each worker (deserialize). Pure functions.
#pragma once

#include <string>

#include "config/program.h"

namespace sipd::config {

std::string serialize_program(const Program& program);

// Rebuilds `out` from `blob`; returns "" on success or why the blob was refused.
std::string deserialize_program(std::string_view blob, Program& out);

}  // namespace sipd::config
