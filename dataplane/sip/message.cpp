#include "dataplane/sip/message.h"

#include <algorithm>
#include <array>

#include "dataplane/sip/chars.h"

namespace sipd::sip {
namespace {

constexpr std::array<std::string_view, 15> kMethodNames = {
    "",      "INVITE", "ACK",       "BYE",    "CANCEL", "REGISTER", "OPTIONS", "INFO",
    "PRACK", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER",  "MESSAGE",  "PUBLISH"};

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool has_ctl(std::string_view s) {
  for (char c : s)
    if (has_class(c, kCtl)) return true;
  return false;
}

// "SIP/" 1*DIGIT "." 1*DIGIT, with "SIP" in any case (an ABNF literal). Sets `is_20` for SIP/2.0.
bool parse_version(std::string_view v, bool& is_20) {
  if (v.size() < 7 || !iequals(v.substr(0, 4), "SIP/")) return false;
  v.remove_prefix(4);
  const size_t dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return false;
  for (size_t i = 0; i < v.size(); ++i)
    if (i != dot && !is_digit(v[i])) return false;
  is_20 = v == "2.0";
  return true;
}

// A response line starts "SIP/" (any case, as parse_start_line reads it); a request line with its method,
// a token, then SP.
bool could_start_message(std::string_view b) {
  if (b.size() >= 4 && (b[0] | 0x20) == 's' && (b[1] | 0x20) == 'i' && (b[2] | 0x20) == 'p' && b[3] == '/')
    return true;
  size_t i = 0;
  while (i < b.size() && is_token_char(b[i])) ++i;
  return i > 0 && i < b.size() && b[i] == ' ';
}

size_t skip_leading_crlf(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size() && (bytes[i] == '\r' || bytes[i] == '\n')) ++i;
  return i;
}

}  // namespace

Method lookup_method(std::string_view token) {
  for (size_t i = 1; i < kMethodNames.size(); ++i)
    if (kMethodNames[i].size() == token.size() && kMethodNames[i][0] == token[0] && kMethodNames[i] == token)
      return Method(i);
  return Method::Other;
}

std::string_view method_name(Method m) { return kMethodNames[size_t(m)]; }

DefectInfo defect_info(Defect d) {
  switch (d) {
    case Defect::None:
      return {200, "OK"};
    case Defect::Empty:
      return {0, "Empty message"};
    case Defect::HeadersIncomplete:
      return {400, "Bad Request - Header Block Not Terminated"};
    case Defect::TooManyHeaders:
      return {400, "Bad Request - Too Many Header Fields"};
    case Defect::MessageTooLarge:
      return {513, "Message Too Large"};
    case Defect::BadStartLine:
      return {400, "Bad Request - Malformed Request-Line"};
    case Defect::BadVersion:
      return {505, "Version Not Supported"};
    case Defect::BadStatusCode:
      return {0, "Bad Status Code"};
    case Defect::BadHeaderLine:
      return {400, "Bad Request - Malformed Header Line"};
    case Defect::BadContentLength:
      return {400, "Bad Request - Bad Content-Length"};
    case Defect::BodyTruncated:
      return {400, "Bad Request - Content-Length Larger Than Message"};
    case Defect::BadRequestUri:
      return {400, "Bad Request - Malformed Request-URI"};
    case Defect::UnsupportedUriScheme:
      return {416, "Unsupported URI Scheme"};
    case Defect::MissingHeader:
      return {400, "Bad Request - Missing Mandatory Header"};
    case Defect::DuplicateHeader:
      return {400, "Bad Request - Repeated Single-Value Header"};
    case Defect::BadVia:
      return {400, "Bad Request - Malformed Via"};
    case Defect::BadFrom:
      return {400, "Bad Request - Malformed From"};
    case Defect::BadTo:
      return {400, "Bad Request - Malformed To"};
    case Defect::BadCallId:
      return {400, "Bad Request - Malformed Call-ID"};
    case Defect::BadCSeq:
      return {400, "Bad Request - Malformed CSeq"};
    case Defect::CSeqMethodMismatch:
      return {400, "Bad Request - CSeq Method Does Not Match"};
    case Defect::UnknownMethodMismatch:
      return {501, "Not Implemented"};
    case Defect::BadMaxForwards:
      return {400, "Bad Request - Malformed Max-Forwards"};
    case Defect::BadContact:
      return {400, "Bad Request - Malformed Contact"};
      return {400, "Bad Request - Malformed Expires"};
    case Defect::BadRoute:
      return {400, "Bad Request - Malformed Route"};
    case Defect::BadExtensionList:
      return {400, "Bad Request - Malformed Option Tags"};
    case Defect::BadExtension:
      return {420, "Bad Extension"};
  }
  return {400, "Bad Request"};
}

Defect Message::parse(std::string_view bytes, Framing framing) {
  buf_ = bytes;
  request_ = true;
  count_ = 0;
  lines_ = 0;
  top_via_state_ = ruri_state_ = from_state_ = to_state_ = 0;
  status_ = 0;
  method_ = Method::Other;
  start_line_ = method_span_ = uri_span_ = version_span_ = reason_span_ = body_ = Span{};
  std::fill(std::begin(first_), std::end(first_), kNoHeader);
  if (bytes.size() > kMaxSize) return Defect::MessageTooLarge;
  start_ = uint32_t(skip_leading_crlf(bytes));
  size_ = uint32_t(bytes.size()) - start_;
  header_end_ = uint32_t(bytes.size());
  if (size_ == 0) return Defect::Empty;
  // What cannot begin a start line — neither "SIP/" nor a token followed by SP: random bytes, binary
  // garbage — ends the parse before the line scan (the cheap refusal a flood of it needs). Such a datagram
  // has no header table, so nothing answers it, even if lines that look like a Via follow.
  if (!could_start_message(bytes.substr(start_))) return Defect::BadStartLine;

  const ScanResult scan = scan_lines(bytes.data() + start_, size_, marks_, std::size(marks_));
  const uint32_t nlines = scan.lines;
  lines_ = uint16_t(nlines);
  const uint32_t first_end = nlines > 0 ? marks_[0].end + start_ : uint32_t(bytes.size());
  start_line_ = Span{start_, uint32_t(strip_cr(bytes.substr(start_, first_end - start_)).size())};
  // A bad start line is reported after the header table is built, so a 400 or 505 can still copy the
  // Via, From, To, Call-ID and CSeq of the request it answers.
  const Defect line_defect = parse_start_line(view(start_line_));
  const Defect table_defect = build_table(nlines);
  if (line_defect != Defect::None) return line_defect;
  if (table_defect != Defect::None) return table_defect;
  if (scan.overflow) return Defect::TooManyHeaders;
  if (!scan.complete) return Defect::HeadersIncomplete;
  header_end_ = scan.header_end + start_;
  return frame_body(framing);
}

// Groups lines 1..nlines-1 into header fields: a line starting with SP/HTAB continues the field above it.
Defect Message::build_table(uint32_t nlines) {
  uint32_t field_begin = 0, field_colon = 0;
  bool open = false;
  Defect d = Defect::None;
  for (uint32_t i = 1; i < nlines; ++i) {
    const uint32_t line_begin = marks_[i - 1].end + start_ + 1;
    if (is_wsp(buf_[line_begin])) {
      if (!open) return Defect::BadHeaderLine;
      continue;
    }
    if (open && (d = add_header(field_begin, line_begin, field_colon)) != Defect::None) return d;
    if (marks_[i].colon == kNoColon) return Defect::BadHeaderLine;
    field_begin = line_begin;
    field_colon = marks_[i].colon + start_;
    open = true;
  }
  if (open) return add_header(field_begin, marks_[nlines - 1].end + start_ + 1, field_colon);
  return Defect::None;
}

Defect Message::parse_start_line(std::string_view line) {
  if (line.size() >= 4 && iequals(line.substr(0, 4), "SIP/")) {
    request_ = false;
    return parse_status_line(line);
  }
  request_ = true;
  return parse_request_line(line);
}

// Method SP Request-URI SP SIP-Version, with exactly one SP each (RFC 4475 3.1.2.9/3.1.2.10 chose 400).
Defect Message::parse_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return Defect::BadStartLine;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return Defect::BadStartLine;
  const uint32_t base = start_line_.off;
  method_span_ = Span{base, uint32_t(sp1)};
  uri_span_ = Span{base + uint32_t(sp1 + 1), uint32_t(sp2 - sp1 - 1)};
  version_span_ = Span{base + uint32_t(sp2 + 1), uint32_t(line.size() - sp2 - 1)};
  const std::string_view method = line.substr(0, sp1);
  if (!is_token(method)) return Defect::BadStartLine;
  method_ = lookup_method(method);
  const std::string_view version = view(version_span_);
  bool is_20 = false;
  if (!parse_version(version, is_20)) return Defect::BadStartLine;
  if (has_ctl(view(uri_span_)) || view(uri_span_).find('\t') != std::string_view::npos)
    return Defect::BadStartLine;
  return is_20 ? Defect::None : Defect::BadVersion;
}

// SIP-Version SP 3DIGIT SP Reason-Phrase (the phrase may be empty, the SP before it may not).
Defect Message::parse_status_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return Defect::BadStartLine;
  const uint32_t base = start_line_.off;
  version_span_ = Span{base, uint32_t(sp1)};
  bool is_20 = false;
  if (!parse_version(line.substr(0, sp1), is_20)) return Defect::BadStartLine;
  size_t i = sp1 + 1;
  size_t digits = 0;
  while (i + digits < line.size() && is_digit(line[i + digits])) ++digits;
  if (digits != 3) return digits > 3 ? Defect::BadStatusCode : Defect::BadStartLine;
  status_ = uint16_t((line[i] - '0') * 100 + (line[i + 1] - '0') * 10 + (line[i + 2] - '0'));
  if (status_ < 100 || status_ > 699) return Defect::BadStatusCode;
  i += 3;
  if (i >= line.size() || line[i] != ' ') return Defect::BadStartLine;
  reason_span_ = Span{base + uint32_t(i + 1), uint32_t(line.size() - i - 1)};
  if (!is_20) return Defect::BadVersion;
  return Defect::None;
}

// `begin` is a line start that is not whitespace, `colon` the line's first ':', `end` just past the field's
// last LF. Performance notes: runs once per header field, so it walks raw bytes (no substr checks).
Defect Message::add_header(uint32_t begin, uint32_t end, uint32_t colon) {
  if (count_ == kMaxHeaders) return Defect::TooManyHeaders;
  const char* b = buf_.data();
  uint32_t name_end = colon;
  while (name_end > begin && is_wsp(b[name_end - 1])) --name_end;
  const std::string_view name(b + begin, name_end - begin);
  // A known name is a token by construction; only the others need the byte-by-byte check.
  const HeaderId id = lookup_header(name);
  if (id == HeaderId::Other && !is_token(name)) return Defect::BadHeaderLine;
  // Trim the end first, so an empty value stays inside its own line (at the colon) and an edit that
  // replaces it cannot spill into the next field.
  uint32_t value = colon + 1, value_end = end;
  if (value_end >= value + 2 && b[value_end - 1] == '\n' && b[value_end - 2] == '\r')
    value_end -= 2;  // the usual end
  while (value_end > value && is_space(b[value_end - 1])) --value_end;
  while (value < value_end && is_space(b[value])) ++value;
  HeaderField& h = headers_[count_];
  h.line = Span{begin, end - begin};
  h.name = Span{begin, name_end - begin};
  h.value = Span{value, value_end - value};
  h.id = id;
  h.next = kNoHeader;
  uint16_t& first = first_[size_t(id)];
  if (first == kNoHeader) {
    first = count_;
  } else {
    headers_[last_[size_t(id)]].next = count_;
  }
  last_[size_t(id)] = count_++;
  return Defect::None;
}

const Uri* parsed_request_uri(const Message& msg) {
  if (msg.ruri_state_ == 0)
    msg.ruri_state_ = msg.is_request() && parse_uri(msg.request_uri(), msg.ruri_) == UriError::None ? 1 : 2;
  return msg.ruri_state_ == 1 ? &msg.ruri_ : nullptr;
}

namespace {
const NameAddr* parsed_address(const Message& msg, HeaderId id, uint8_t& state, NameAddr& kept) {
  if (state == 0) {
    bool present = false;
    const std::string_view value = msg.first_value(id, &present);
    state = present && parse_name_addr(value, kept) ? 1 : 2;
  }
  return state == 1 ? &kept : nullptr;
}
}  // namespace

const NameAddr* parsed_from(const Message& msg) {
  return parsed_address(msg, HeaderId::From, msg.from_state_, msg.from_);
}
const NameAddr* parsed_to(const Message& msg) {
  return parsed_address(msg, HeaderId::To, msg.to_state_, msg.to_);
}

Defect Message::frame_body(Framing framing) {
  const uint32_t available = uint32_t(buf_.size()) - header_end_;
  uint32_t length = available;
  bool seen = false;
  for (uint16_t i = first(HeaderId::ContentLength); i != kNoHeader; i = next(i)) {
    uint64_t v = 0;
    if (!parse_uint(value(i), UINT32_MAX, v)) return Defect::BadContentLength;
    if (seen) return Defect::BadContentLength;  // RFC 4475 3.3.9: several values cannot frame a message
    seen = true;
    length = uint32_t(v);
  }
  if (!seen && framing == Framing::Stream) return Defect::BadContentLength;
  if (length > available) return Defect::BodyTruncated;
  body_ = Span{header_end_, length};
  size_ = header_end_ + length - start_;
  return Defect::None;
}

size_t Message::count(HeaderId id) const {
  size_t n = 0;
  for (uint16_t i = first(id); i != kNoHeader; i = next(i)) ++n;
  return n;
}

std::string_view Message::first_value(HeaderId id, bool* found) const {
  const uint16_t i = first(id);
  if (found) *found = i != kNoHeader;
  return i == kNoHeader ? std::string_view() : value(i);
}

uint16_t Message::find(std::string_view header) const {
  const HeaderId id = lookup_header(header);
  if (id != HeaderId::Other) return first(id);
  for (uint16_t i = first(HeaderId::Other); i != kNoHeader; i = next(i))
    if (iequals(name(i), header)) return i;
  return kNoHeader;
}

StreamFrame frame_stream(std::string_view bytes) {
  const uint32_t skip = uint32_t(skip_leading_crlf(bytes));
  const std::string_view rest = bytes.substr(skip);
  LineMark marks[Message::kMaxHeaders + 64];
  const ScanResult scan = scan_lines(rest.data(), rest.size(), marks, std::size(marks));
  if (!scan.complete) {
    const bool hopeless = scan.overflow || rest.size() > Message::kMaxSize;
    return {hopeless ? StreamStatus::Invalid : StreamStatus::NeedMore, skip, 0};
  }
  bool seen = false;
  uint64_t length = 0;
  for (uint32_t i = 1; i < scan.lines; ++i) {
    const uint32_t begin = marks[i - 1].end + 1;
    if (marks[i].colon == kNoColon || is_wsp(rest[begin])) continue;
    const std::string_view name = trim(rest.substr(begin, marks[i].colon - begin));
    if (lookup_header(name) != HeaderId::ContentLength) continue;
    const std::string_view v = trim(rest.substr(marks[i].colon + 1, marks[i].end - marks[i].colon - 1));
    if (seen || !parse_uint(v, Message::kMaxSize, length)) return {StreamStatus::Invalid, skip, 0};
    seen = true;
  }
  if (!seen) return {StreamStatus::Invalid, skip, 0};
  const uint64_t total = uint64_t(scan.header_end) + length;
  if (total > rest.size()) return {StreamStatus::NeedMore, skip, 0};
  return {StreamStatus::Complete, skip, uint32_t(total)};
}

}  // namespace sipd::sip
