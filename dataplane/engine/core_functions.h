// Bodies of the OpenSIPS core, textops, sipmsgops, uri and cfgutils functions that need nothing but the
// message and the run's state: the Request-URI rewrites (seturi, prefix, strip, sethost, setuser...,
// revert_uri), $du (setdsturi, resetdsturi, isdsturiset), R-URI parameters (ruri_add_param, uri_param...,
// tel2sip), body and header tests (has_body, is_privacy, is_audio_on_hold, sipmsg_validate), regex edits of
// the message (replace, replace_all, search_append... and their _body forms, remove_hf_re, filter_body),
// headers added to the request or its replies (append_urihf, append_time), change_reply_status,
// pseudo-variable writes (pv_printf, get_timestamp), xdbg and cfgutils' probability (rand_event...). Each
// does what OpenSIPS 3.x documents; where its documentation and its source disagree the .cpp says which
// was followed.
//
// Who calls: every Vm binds the table when it is made (vm.cpp); bodies run on the Vm's thread. Nothing is
// allocated and no system call is made: new text goes to the run's arena, edits to the message's EditList,
// and a regex is compiled by PCRE2 the first time a worker meets it (subst.h), never again. cfgutils'
// probability is per worker thread (OpenSIPS keeps one for the whole server in shared memory).
#pragma once

#include <span>

#include "dataplane/engine/vm.h"

namespace sipd::engine {

std::span<const BodyEntry> core_function_bodies();

}  // namespace sipd::engine
