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

// POSIX-extended semantics ('.' matches any byte), case-sensitive; compiled once per pattern and cached.
bool regex_match(std::string_view pattern, std::string_view subject);

}  // namespace sipd::engine
