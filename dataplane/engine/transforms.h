// The bodies of the routing language's transformations ({s.len}, {uri.user}, {param.value,name}...): one
// function that computes transformation `id` over a value, with its arguments already evaluated (the
// engine reads pseudo-variable arguments before it calls). Each computes what OpenSIPS 3.x documents; the
// table of names and arguments is config/transforms.h.
//
// Who calls: the engine (vm.cpp, natives.cpp), the transformation tests. Nothing is allocated: results
// are views into the input or text written into the run's arena (VmState::arena). A transformation that
// does not apply to its input (a URI one over something that is not a URI...) gives Value::null(), as
// OpenSIPS's failed transformation gives no value. {s.eval} also gives no value here: evaluating the
// input as a format is the engine's, which computes it before calling this.
#pragma once

#include <span>

#include "config/transforms.h"
#include "dataplane/engine/vm.h"

namespace sipd::engine {

// `msg`, when given, is the message the run is on: a URI transformation of its own Request-URI uses the
// parse the message keeps instead of parsing it again.
Value apply_transform(VmState& st, config::TransformId id, std::span<const Value> args, const Value& in,
                      const sip::Message* msg = nullptr);

}  // namespace sipd::engine
