// The zero-copy SIP message: a start line and a table of header fields, all views (offset + length) into
// the caller's buffer, built by one structural scan. Header values are parsed only when asked for (the
// parsers in via.h, name_addr.h, scalar.h... take the views this table hands out). Nothing is copied and
// nothing is allocated: a Message is a fixed-size value the worker keeps in its own memory and reuses.
//
// Who calls: the dataplane worker for every received datagram, the control process for every framed
// TCP/TLS message, tests and tools. A Message is used by one thread at a time; the buffer must outlive it
// and must not change while it is in use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/sip/header_id.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scan.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/via_value.h"

namespace sipd::sip {

struct Span {
  uint32_t off = 0;
  uint32_t len = 0;
  constexpr uint32_t end() const { return off + len; }
};

enum class Method : uint8_t {
  Other,
  Invite,
  Ack,
  Bye,
  Cancel,
  Register,
  Options,
  Info,
  Prack,
  Update,
  Subscribe,
  Notify,
  Refer,
  Message,
  Publish,
};

// Exact, case-sensitive match of the known method names (RFC 3261: methods are case-sensitive).
Method lookup_method(std::string_view token);
std::string_view method_name(Method m);

// What made a message unparseable or unacceptable. Each defect carries the answer a proxy gives to a
// request that has it (see defect_status) and a reason phrase that names it.
enum class Defect : uint8_t {
  None,
  Empty,
  HeadersIncomplete,     // no empty line ends the header block
  TooManyHeaders,        // more than Message::kMaxHeaders header lines
  MessageTooLarge,       // over Message::kMaxSize bytes
  BadStartLine,          // malformed request or status line
  BadVersion,            // SIP-Version other than SIP/2.0 (505)
  BadStatusCode,         // status outside 100-699 (responses: dropped)
  BadHeaderLine,         // a header line without a colon or with a name that is not a token
  BadContentLength,      // not a number, negative, several different values
  BodyTruncated,         // Content-Length larger than what arrived (datagrams)
  BadRequestUri,         // Request-URI that does not parse, or with <> or headers
  UnsupportedUriScheme,  // 416
  MissingHeader,         // Via, From, To, Call-ID or CSeq absent
  DuplicateHeader,       // a single-valued header appears more than once
  BadVia,
  BadFrom,
  BadTo,
  BadCallId,
  BadCSeq,
  CSeqMethodMismatch,     // known method
  UnknownMethodMismatch,  // unknown method whose CSeq names another (501, RFC 4475 3.1.2.18)
  BadMaxForwards,
  BadContact,
  BadRoute,
  BadExtensionList,  // a Proxy-Require value that is not a list of option tags
  BadExtension,      // Proxy-Require names options we do not support (420)
};

struct DefectInfo {
  uint16_t status;          // 400, 416, 420, 501, 505; 0 means drop silently
  std::string_view reason;  // reason phrase for the reply
};
DefectInfo defect_info(Defect d);

struct HeaderField {
  Span line;   // name through the LF that ends the field (continuation lines included)
  Span name;   // as written, trimmed
  Span value;  // trimmed; inner folding (CRLF + SP/HTAB) kept as it is
  HeaderId id = HeaderId::Other;
  uint16_t next = 0;  // index of the next field with the same id, or kNoHeader
};

inline constexpr uint16_t kNoHeader = UINT16_MAX;

enum class Framing : uint8_t {
  Datagram,  // UDP: the body is Content-Length bytes (rest of the datagram when absent); extra octets ignored
  Stream,    // TCP/TLS: the caller already framed the message (see frame_stream); Content-Length required
};

class Message {
 public:
  static constexpr size_t kMaxHeaders = 256;
  static constexpr size_t kMaxLines = kMaxHeaders + 64;  // start line, fields and their continuation lines
  static constexpr size_t kMaxSize = 65535;

  // Parses the start line, the header table and the body framing. Values are not parsed. Returns
  // Defect::None on success; on failure the fields found so far stay readable (a reply can still be built
  // when the Via/From/To/Call-ID/CSeq lines were seen).
  [[nodiscard]] Defect parse(std::string_view bytes, Framing framing = Framing::Datagram);

  bool is_request() const { return request_; }
  bool is_response() const { return !request_; }

  // The whole buffer as given, and the message proper (start line to end of body; leading CRLFs and
  // trailing octets past Content-Length excluded).
  std::string_view buffer() const { return buf_; }
  std::string_view message() const { return view(Span{start_, size_}); }
  std::string_view view(Span s) const { return buf_.substr(s.off, s.len); }

  // Request line. `method_span` is the token as written; `method()` its known id.
  Method method() const { return method_; }
  std::string_view method_text() const { return view(method_span_); }
  std::string_view request_uri() const { return view(uri_span_); }
  Span request_uri_span() const { return uri_span_; }
  std::string_view version() const { return view(version_span_); }
  Span start_line_span() const { return start_line_; }  // without CRLF

  // Status line.
  uint16_t status() const { return status_; }
  std::string_view reason() const { return view(reason_span_); }

  // Header table, in wire order.
  size_t header_count() const { return count_; }
  // Lines before the empty line (start line, fields, continuation lines), at most kMaxLines.
  size_t line_count() const { return lines_; }
  const HeaderField& header(size_t i) const { return headers_[i]; }
  std::string_view name(size_t i) const { return view(headers_[i].name); }
  std::string_view value(size_t i) const { return view(headers_[i].value); }
  uint16_t first(HeaderId id) const { return first_[size_t(id)]; }
  uint16_t next(uint16_t i) const { return headers_[i].next; }
  size_t count(HeaderId id) const;
  // Value of the first field with `id`, or an empty view with `found` false.
  std::string_view first_value(HeaderId id, bool* found = nullptr) const;
  // First field whose name matches `name` case-insensitively (compact forms included for known names).
  uint16_t find(std::string_view name) const;

  // Offset just past the empty line; the body starts here.
  uint32_t header_end() const { return header_end_; }
  std::string_view body() const { return view(body_); }
  Span body_span() const { return body_; }
  bool has_content_length() const { return first(HeaderId::ContentLength) != kNoHeader; }

 private:
  Defect parse_start_line(std::string_view line);
  Defect build_table(uint32_t nlines);
  Defect parse_request_line(std::string_view line);
  Defect parse_status_line(std::string_view line);
  Defect add_header(uint32_t begin, uint32_t end, uint32_t colon);
  Defect frame_body(Framing framing);

  std::string_view buf_;
  uint32_t start_ = 0;
  uint32_t size_ = 0;
  uint32_t header_end_ = 0;
  Span start_line_, method_span_, uri_span_, version_span_, reason_span_, body_;
  uint16_t status_ = 0;
  Method method_ = Method::Other;
  bool request_ = true;
  uint16_t count_ = 0;
  uint16_t first_[kHeaderIdCount];
  uint16_t last_[kHeaderIdCount];
  HeaderField headers_[kMaxHeaders];
  uint16_t lines_ = 0;  // lines the scan found before the empty line
  // The top Via as parse_top_via() found it, so the message core, tm and the proxy parse it once.
  mutable uint8_t top_via_state_ = 0;  // 0: not parsed yet, 1: parsed into top_via_, 2: does not parse
  mutable Via top_via_;
  friend bool parse_top_via(const Message& msg, Via& out);
  // The Request-URI and the first From and To values, parsed once when someone first asks (validate(),
  // then forward()'s next hop, $rU, $ft, the ACK and to-tag checks...): parsed_request_uri(),
  // parsed_from() and parsed_to(). States as top_via_state_.
  mutable uint8_t ruri_state_ = 0, from_state_ = 0, to_state_ = 0;
  mutable Uri ruri_;
  mutable NameAddr from_, to_;
  friend const Uri* parsed_request_uri(const Message& msg);
  friend const NameAddr* parsed_from(const Message& msg);
  friend const NameAddr* parsed_to(const Message& msg);
  LineMark marks_[kMaxLines];
};

// The Request-URI of a request as parse_uri() reads it, the first From and To values as parse_name_addr()
// does, each parsed the first time it is asked for and kept with the message until its next parse(). Null
// when the message has none or it does not parse. The views point into the message.
const Uri* parsed_request_uri(const Message& msg);
const NameAddr* parsed_from(const Message& msg);
const NameAddr* parsed_to(const Message& msg);

// TCP/TLS framing (RFC 3261 18.3): how long the first message in `bytes` is. Leading CRLFs (keep-alives)
// are counted into `skip`. Content-Length is mandatory on streams; a bad one is unrecoverable.
enum class StreamStatus : uint8_t { Complete, NeedMore, Invalid };
struct StreamFrame {
  StreamStatus status;
  uint32_t skip;  // leading CR/LF bytes before the start line
  uint32_t size;  // message size from the start line through the body, when Complete
};
StreamFrame frame_stream(std::string_view bytes);

}  // namespace sipd::sip
