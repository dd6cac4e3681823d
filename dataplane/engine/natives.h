// The engine's own function bodies (core functions, flags, message tests, log/xlog, maxfwd), core
// keyword values, transformations and regex matching. Internal to dataplane/engine.
#pragma once

#include <span>
#include <string_view>

#include "dataplane/engine/vm.h"

namespace sipd::engine {

Value load_name(const Context& ctx, VmState& st, config::NameId id);

// `text` is a SIP URI or a host[:port]: is it this proxy (the program's listen/socket/alias addresses)?
bool is_myself(const config::Program& program, std::string_view text);

// OpenSIPS's regex semantics: POSIX extended, without regard to case. `lines`: over a whole message, as
// textops' search() reads it (REG_NEWLINE: '^' and '$' at every line, '.' not across one); otherwise '.'
// matches any byte (the script's =~). Compiled once per pattern and cached.
bool regex_match(std::string_view pattern, std::string_view subject, bool lines = false);

}  // namespace sipd::engine
