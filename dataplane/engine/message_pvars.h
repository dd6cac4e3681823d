// Reads of the message pseudo-variables beyond the engine's core set (pvars.cpp): display names, the
// original Request-URI, Contact, Content-Type, bodies, Diversion, P-Asserted/Preferred-Identity,
// Remote-Party-ID, Refer-To, Path, credentials, sockets, flags in hex, time, $RANDOM, colours, $msg.flag.
// Each computes what OpenSIPS 3.x documents for it (Script-CoreVar-3-x).
//
// Who calls: the engine (Vm::load_pv, Vm::load_at). Same rules as the rest of the engine: nothing
// allocated, no syscalls; new text goes to the run's arena.
#pragma once

#include <string_view>

#include "config/program.h"
#include "dataplane/engine/vm.h"

namespace sipd::engine {

// Value `n` of pseudo-variable `id` with argument `arg` (0 for those with one value; for the indexable
// ones — $ct, $ct.fields(...), $hdr_name — the n-th, negative from the end). `arg` is the argument as
// written: $hdrcnt's header name, $ct.fields's and $socket_in/$socket_out's field ("" for the whole),
// $time's strftime format, $C's two colour letters, $msg.flag's flag name. Null when the message has no
// such value, the argument names nothing OpenSIPS knows, or the id is not one of this file's. Strings
// are views into the message, static text, or text in `st`'s arena.
Value load_message_pv(Vm& vm, const Context& ctx, VmState& st, config::PvId id, std::string_view arg,
                      int64_t n);

}  // namespace sipd::engine
