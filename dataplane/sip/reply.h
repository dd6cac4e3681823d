// Replies the proxy writes itself (sl_send_reply, send_reply, the message core's 400/420/505, the
// transaction layer's 100 Trying and 408/487/503), built from the request per RFC 3261 8.2.6.2: every Via
// in order, From, To (with a tag added for anything but 100), Call-ID and CSeq copied as written; the top
// Via gets `received` and a value for an empty `rport` (RFC 3261 18.2.1, RFC 3581 4); then Server, the
// script's append_to_reply lines and an empty body.
//
// Who calls: the dataplane worker, the transaction layer, sipctl config test. Pure and allocation-free.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/sip/builder.h"
#include "dataplane/sip/message.h"

namespace sipd::sip {

struct ReplyOptions {
  uint16_t code = 200;
  std::string_view reason;
  std::string_view to_tag;                  // used when the request's To has no tag and code > 100
  std::string_view received_ip;             // the request's source address ("" to leave the Via alone)
  uint16_t received_port = 0;               // its source port, for an `rport` without a value
  std::string_view server;                  // Server header value, "" for none
  std::span<const std::string_view> extra;  // whole header lines, each ending in CRLF (append_to_reply)
};

// Writes the reply into out[0, cap). NoRoom when it does not fit in cap or in Message::kMaxSize; Failed when
// the request has no parseable top Via (there is nowhere to send a reply then).
BuildResult build_reply(const Message& request, const ReplyOptions& opt, char* out, size_t cap);

// A To-tag that a request and its retransmissions share (RFC 3261 8.2.6.2 asks for a stable one when the
// UAS answers statelessly): 16 hex digits from a keyed hash of Call-ID, From tag, top Via branch and the
// CSeq number — so the ACK for that reply (RFC 3261 17.1.1.3: same branch, same number) gives the same tag.
std::string_view stateless_to_tag(const Message& request, uint64_t key, char (&buf)[16]);

}  // namespace sipd::sip
