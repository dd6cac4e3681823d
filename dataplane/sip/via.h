// Via header values (RFC 3261 20.42, RFC 3581 rport, RFC 5118 IPv6 received). One call parses one value
// of a possibly comma-joined Via line; ValueIterator(msg, HeaderId::Via) walks them all in order.
// Pure, allocation-free; any thread. Views point into the message buffer.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/sip/message.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/via_value.h"

namespace sipd::sip {

// Parses one via-parm: sent-protocol LWS sent-by *( SEMI via-params ), LWS allowed around '/', ':', ';'
// and '='. Unknown transports are accepted; `received` may be IPv4, IPv6 with or without brackets.
[[nodiscard]] bool parse_via(std::string_view value, Via& out);

// The topmost Via value of a message. Parsed once per message (validate, tm, the proxy and the reply
// builder all ask); later calls copy the result kept in the Message.
[[nodiscard]] bool parse_top_via(const Message& msg, Via& out);

}  // namespace sipd::sip
