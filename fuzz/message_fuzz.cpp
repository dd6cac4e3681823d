// libFuzzer target for the SIP message core (dataplane/sip/message.h, validate.h, builder.h): parses the
// input as a UDP datagram and, through frame_stream, as a TCP/TLS stream frame; validates; checks the
// invariants callers rely on (every view inside the buffer, header names and values inside their lines,
// the header table's links, the body inside the buffer, stream framing agreeing with the parser); and for
// an accepted request runs the edits a proxy makes and checks the rebuilt message parses and is accepted.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "dataplane/sip/builder.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/validate.h"

namespace {

using namespace sipd::sip;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "message_fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

bool span_inside(Span s, size_t size) { return uint64_t(s.off) + s.len <= size; }

bool view_inside(std::string_view v, std::string_view buf) {
  if (v.empty()) return true;
  return v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size();
}

// Holds whatever parse() returned: the fields found so far must always be safe to read.
void check_message(const Message& msg, Defect parsed) {
  const std::string_view buf = msg.buffer();
  check(span_inside(msg.start_line_span(), buf.size()), "start line inside the buffer");
  check(span_inside(msg.request_uri_span(), buf.size()), "request-uri inside the buffer");
  check(span_inside(msg.body_span(), buf.size()), "body inside the buffer");
  check(view_inside(msg.method_text(), buf) && view_inside(msg.version(), buf) &&
            view_inside(msg.reason(), buf),
        "start line views inside the buffer");
  check(view_inside(msg.message(), buf), "message inside the buffer");
  check(msg.header_end() <= buf.size(), "header end inside the buffer");
  check(msg.header_count() <= Message::kMaxHeaders, "header count within the table");

  for (size_t i = 0; i < msg.header_count(); ++i) {
    const HeaderField& h = msg.header(i);
    check(span_inside(h.line, buf.size()), "header line inside the buffer");
    check(h.name.off == h.line.off && h.name.end() <= h.line.end(), "header name inside its line");
    // The value lies between the colon and the line's final LF: an empty value too (an edit that
    // replaces it must land on this line).
    check(h.value.off > h.name.end() && h.value.end() < h.line.end(), "header value inside its line");
    check(h.line.off > msg.start_line_span().end(), "header after the start line");
    if (i > 0) check(h.line.off >= msg.header(i - 1).line.end(), "header lines in order, not overlapping");
    check(h.next == kNoHeader || (h.next > i && h.next < msg.header_count() && msg.header(h.next).id == h.id),
          "next link goes forward to a field with the same id");
    check(lookup_header(msg.name(i)) == h.id, "id matches the name");
    check(msg.name(i).find(':') == std::string_view::npos, "name holds no colon");
  }
  for (size_t id = 0; id < kHeaderIdCount; ++id) {
    const uint16_t f = msg.first(HeaderId(id));
    check(f == kNoHeader || (f < msg.header_count() && msg.header(f).id == HeaderId(id)), "first link");
  }
  if (parsed == Defect::None) {
    check(msg.header_end() <= buf.size() && msg.body_span().off == msg.header_end(),
          "body starts after the header");
    check(msg.message().data() + msg.message().size() == msg.body().data() + msg.body().size(),
          "message ends with its body");
    if (msg.header_count() > 0)
      check(msg.header(msg.header_count() - 1).line.end() < msg.header_end(),
            "headers end before the empty line");
  }
}

// Whether adding `lines` header lines may overflow the header table or the scan's line marks.
bool near_table_limits(const Message& msg, size_t lines) {
  const std::string_view head = msg.buffer().substr(0, msg.header_end());
  size_t lfs = 0;
  for (char c : head) lfs += c == '\n';
  return msg.header_count() + lines > Message::kMaxHeaders || lfs + lines > Message::kMaxLines;
}

// The edits the dataplane makes on a forwarded request, and a second parse of the result.
void round_trip(const Message& msg) {
  static Message again;
  static char out[Message::kMaxSize + 2 * EditList::kArenaSize];
  EditList edits(msg);
  check(edits.add_top_via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-fuzz"), "add_top_via");
  (void)edits.add_top_via_param(";received=192.0.2.99");
  check(edits.set_max_forwards(69), "set_max_forwards");
  check(edits.add_record_route("<sip:192.0.2.1;lr>"), "add_record_route");
  // The builder refuses what sipd could not parse again: too large, or too many fields or lines.
  const BuildResult built = edits.build(out, sizeof out);
  if (built.error == BuildError::NoRoom) {
    check(msg.message().size() + 200 > Message::kMaxSize, "only a message near the size limit has no room");
    return;
  }
  if (built.error == BuildError::TooManyHeaders) {
    check(near_table_limits(msg, 4), "only a message near the table limits has too many headers");
    return;
  }
  check(built.ok(), "build of an accepted message succeeds");
  const std::string_view rebuilt(out, built.size);
  const Defect d = again.parse(rebuilt);
  check(d == Defect::None, "rebuilt message parses");
  check_message(again, d);
  check(again.body() == msg.body(), "body kept");
  check(validate(again, d).action == Action::Accept, "rebuilt message is accepted");
  check(again.first_value(HeaderId::MaxForwards) == "69", "Max-Forwards rewritten");
}

void check_stream(std::string_view raw) {
  static Message msg;
  const StreamFrame f = frame_stream(raw);
  check(uint64_t(f.skip) <= raw.size(), "skip inside the input");
  if (f.status != StreamStatus::Complete) return;
  check(uint64_t(f.skip) + f.size <= raw.size(), "frame inside the input");
  check(f.size > 0, "a complete frame is not empty");
  const std::string_view frame = raw.substr(f.skip, f.size);
  const Defect d = msg.parse(frame, Framing::Stream);
  check_message(msg, d);
  check(d != Defect::HeadersIncomplete && d != Defect::BodyTruncated, "framed message is complete");
  if (d == Defect::None) check(msg.message().size() == f.size, "parser and framer agree on the size");
  (void)validate(msg, d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Message msg;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const Defect d = msg.parse(raw);
  check_message(msg, d);
  const Verdict v = validate(msg, d);
  check(v.action != Action::Accept || d == Defect::None, "only a parsed message is accepted");
  check(v.action != Action::Reply || v.status >= 400, "replies are errors");
  if (v.action == Action::Accept && msg.is_request()) round_trip(msg);
  check_stream(raw);
  return 0;
}
