// The records the rings carry: a worker's question (a suspended script function, its arguments, the request
// it runs over) and control's answer (the result, a reply to send, AVPs to set); and, for MI's t_uac_dlg,
// control's request for a worker to send through tm (on the answers ring) and that transaction's outcome
// (on the questions ring). Fixed little-endian headers followed by length-prefixed strings; nothing in a
// record points anywhere. Each kind starts with its own magic (record_kind() tells them apart), so a
// consumer that meets a kind it does not know refuses that record alone.
//
// Who calls: the worker encodes questions and decodes answers; control the other way round. decode_* take
// bytes another process wrote: every length is checked against the record and the fixed capacities here,
// and a record that does not add up is refused whole (the fuzz target `records_fuzz` feeds them garbage).
// Nothing allocates; decoded views point into the record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sipd::shm {

inline constexpr size_t kMaxArgs = 6;
inline constexpr size_t kMaxAnswerHeaders = 24;
inline constexpr size_t kMaxAnswerAvps = 32;

struct AnswerAvp {
  std::string_view name;
  bool is_int = false;
  int64_t i = 0;
  std::string_view s;
};

struct QuestionRecord {
  uint32_t epoch = 0;  // the dataplane's epoch when it asked (Header::dataplane.epoch)
  uint32_t id = 0;     // the waiting run (proxy::Question::id)
  std::string_view function;
  std::array<std::string_view, kMaxArgs> args{};
  uint8_t argc = 0;
  uint32_t src_ip = 0;  // host order
  uint16_t src_port = 0;
  uint8_t transport = 0;  // sip::Transport
  uint32_t connection = 0;
  std::string_view request;  // the whole SIP message
  // AVP values the function needs from the run (avp_db_store: the named AVP's values, newest first).
  std::array<AnswerAvp, kMaxAnswerAvps> values{};
  uint8_t value_count = 0;
};

struct AnswerRecord {
  uint32_t epoch = 0;  // copied from the question
  uint32_t id = 0;
  int64_t result = -1;
  uint16_t reply_code = 0;  // 0: no reply to send
  std::string_view reply_reason;
  std::array<std::string_view, kMaxAnswerHeaders> headers{};  // whole lines with CRLF
  uint8_t header_count = 0;
  std::array<AnswerAvp, kMaxAnswerAvps> avps{};
  uint8_t avp_count = 0;
};

// Control asks worker `worker` to send a request of its own through tm (MI's t_uac_dlg): a non-INVITE
// client transaction with no server side, whose final response (or tm's 408) comes back as a
// UacResultRecord with the same id.
struct UacRequestRecord {
  uint32_t epoch = 0;   // the dataplane's epoch when control sent it (a later dataplane ignores it)
  uint32_t id = 0;      // control's ticket for the MI request that waits
  uint32_t dst_ip = 0;  // host order: where the request goes (UDP)
  uint16_t dst_port = 0;
  // The whole request, its top Via's branch left out: the worker writes its transaction's branch at
  // request[branch_at] (so the response comes back to that worker and transaction).
  uint32_t branch_at = 0;
  std::string_view request;
};

// What became of a UacRequestRecord: the final status and the response as received (empty for tm's own
// 408 when nothing answered), or code 0 when the worker could not send it (`reason` says why).
struct UacResultRecord {
  uint32_t epoch = 0;  // copied from the request
  uint32_t id = 0;
  uint16_t code = 0;
  std::string_view reason;
  std::string_view response;
};

// SIP over TCP and TLS: the connections live in control, the routing on the workers. A message control
// framed from a connection goes to the worker that owns it (on the answers ring) as a StreamInRecord; what
// a worker's script sends to a TCP or TLS destination comes back (on the questions ring) as a
// StreamOutRecord, to the connection it names, else to one control has (or opens) to the address.
struct StreamInRecord {
  uint32_t epoch = 0;       // the dataplane's epoch when control sent it (a later dataplane ignores it)
  uint32_t connection = 0;  // control's id of the connection the message arrived on (never 0)
  uint8_t transport = 0;    // sip::Transport: Tcp or Tls
  uint32_t src_ip = 0;      // host order: the connection's far end
  uint16_t src_port = 0;
  uint16_t local_port = 0;   // the listener's (or, for a connection we opened, our) port
  std::string_view message;  // one whole SIP message, as framed
};

struct StreamOutRecord {
  uint32_t epoch = 0;       // the worker's dataplane epoch
  uint32_t connection = 0;  // the connection to write to; 0: any to the address, opened if need be
  uint8_t transport = 0;    // sip::Transport: Tcp or Tls
  uint32_t dst_ip = 0;      // host order
  uint16_t dst_port = 0;
  // force_tcp_alias(): no message; `connection` becomes the way to its own far address at dst_port too.
  bool alias = false;
  std::string_view message;  // one whole SIP message (none with `alias`)
};

enum class RecordKind : uint8_t { Unknown, Question, Answer, UacRequest, UacResult, StreamIn, StreamOut };
// Which kind a record is, by its magic (nothing else is checked: decode() does that).
RecordKind record_kind(std::string_view bytes);

// The bytes written into out[0, cap), 0 when the record does not fit.
size_t encode(const QuestionRecord& q, char* out, size_t cap);
size_t encode(const AnswerRecord& a, char* out, size_t cap);
size_t encode(const UacRequestRecord& r, char* out, size_t cap);
size_t encode(const UacResultRecord& r, char* out, size_t cap);
size_t encode(const StreamInRecord& r, char* out, size_t cap);
size_t encode(const StreamOutRecord& r, char* out, size_t cap);
// False (and `out` unspecified) when `bytes` is not exactly one well-formed record of that kind.
[[nodiscard]] bool decode(std::string_view bytes, QuestionRecord& out);
[[nodiscard]] bool decode(std::string_view bytes, AnswerRecord& out);
[[nodiscard]] bool decode(std::string_view bytes, UacRequestRecord& out);
[[nodiscard]] bool decode(std::string_view bytes, UacResultRecord& out);
[[nodiscard]] bool decode(std::string_view bytes, StreamInRecord& out);
[[nodiscard]] bool decode(std::string_view bytes, StreamOutRecord& out);

}  // namespace sipd::shm
