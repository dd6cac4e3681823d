#include "control/tcp/framer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "dataplane/sip/chars.h"

// Performance notes: the header scan jumps from LF to LF with memchr and looks at each line's first byte
// once; only a field whose name starts with 'c' or 'l' has its colon searched, and only a Content-Length
// field has its value read, once, when the field ends. The body is not looked at. State survives between
// calls, so every byte is scanned once however the reads split it, and the bytes are moved at most once
// (space() moves the current frame to the front only when it is small next to what was consumed before it,
// or when the room behind it runs out, and never twice for the same frame).

namespace sipd::tcp {
namespace {

// max_message is clamped to these. Below 16 bytes no SIP message fits; the floor also keeps the up to 3
// bytes of a keep-alive held between messages ("\r", "\r\n", "\r\n\r") within max_message, so space()
// always has kSlack bytes to offer once drained.
constexpr uint32_t kMinLimit = 16;
constexpr uint32_t kMaxLimit = 1u << 24;
using sip::is_wsp;

// 1*DIGIT within `max`, or the reason it is not.
const char* parse_length(std::string_view v, uint32_t max, uint32_t& out) {
  if (v.empty()) return "Content-Length is not a number";
  if (v[0] == '-') {
    const bool digits = v.size() > 1 && std::all_of(v.begin() + 1, v.end(), sip::is_digit);
    return digits ? "Content-Length is negative" : "Content-Length is not a number";
  }
  uint64_t n = 0;
  bool over = false;
  for (char c : v) {
    if (!sip::is_digit(c)) return "Content-Length is not a number";
    n = n * 10 + uint64_t(c - '0');
    over |= n > max;
    if (over) n = uint64_t(max) + 1;  // keeps n bounded; the rest must still be digits
  }
  if (over) return "Content-Length exceeds the maximum message size";
  out = uint32_t(n);
  return nullptr;
}

}  // namespace

Framer::Framer(const FramerLimits& limits)
    : max_(std::clamp<uint32_t>(limits.max_message, kMinLimit, kMaxLimit)), lazy_(limits.lazy_buffer) {
  if (!lazy_) {
    cap_ = max_ + kSlack;
    buf_.reset(new char[cap_]);  // not zeroed: pages are touched only as reads fill them
  }
}

std::span<char> Framer::space() {
  if (state_ == State::Failed) return {};
  if (!buf_) {
    cap_ = max_ + kSlack;
    buf_.reset(new char[cap_]);
    begin_ = end_ = 0;
  }
  const uint32_t held = end_ - begin_;
  if (held == 0) {
    begin_ = end_ = 0;
  } else if (begin_ > 0 && (begin_ >= held || cap_ - end_ < kSlack)) {
    // Cheap when the held tail is no longer than what was consumed before it; forced when the room left
    // is short, which happens at most once per frame (it then starts at 0). After it the room is at least
    // kSlack: a drained framer holds at most max_message bytes.
    std::memmove(buf_.get(), buf_.get() + begin_, held);
    begin_ = 0;
    end_ = held;
  }
  return {buf_.get() + end_, cap_ - end_};
}

void Framer::commit(size_t n) {
  assert(n <= size_t(cap_ - end_) && (state_ != State::Failed || n == 0));
  if (state_ == State::Failed) return;
  end_ += uint32_t(std::min(n, size_t(cap_ - end_)));
}

void Framer::release() {
  if (!buf_) return;
  if (state_ == State::Failed || (lazy_ && end_ == begin_)) {
    buf_.reset();
    cap_ = 0;
    begin_ = end_ = 0;
  }
}

Frame Framer::next() {
  switch (state_) {
    case State::Between:
      return between();
    case State::Headers:
      return headers();
    case State::Body:
      return body();
    case State::Failed:
      break;
  }
  return {FrameKind::Error, {}, error_};
}

Frame Framer::fail(const char* why) {
  state_ = State::Failed;
  error_ = why;
  return {FrameKind::Error, {}, why};
}

// CR and LF between messages. A CRLF, or CRLF CR, at the end of what arrived waits: the rest may make it
// a Ping.
Frame Framer::between() {
  const uint32_t held = end_ - begin_;
  if (held == 0) return {};
  const char* f = buf_.get() + begin_;
  uint32_t n = 0;
  FrameKind kind = FrameKind::Pong;
  if (f[0] == '\n') {
    n = 1;
  } else if (f[0] == '\r') {
    if (held < 2) return {};
    if (f[1] != '\n') {
      n = 1;  // a stray CR
    } else {
      if (held < 3) return {};
      n = 2;
      if (f[2] == '\r') {
        if (held < 4) return {};
        if (f[3] == '\n') {
          n = 4;
          kind = FrameKind::Ping;
        }
      }
    }
  } else {
    state_ = State::Headers;
    scan_ = line_ = value_ = length_ = 0;
    has_length_ = classify_ = false;
    candidate_ = false;  // line 0 is the start line, not a field
    return headers();
  }
  begin_ += n;
  return {kind, std::string_view(f, n), ""};
}

// Resumes the header scan where the last call stopped. Nothing past the first max_message bytes of the
// frame is looked at, so what is decided does not depend on how much arrived at once.
Frame Framer::headers() {
  const char* f = buf_.get() + begin_;
  const uint32_t held = end_ - begin_;
  const uint32_t window = std::min(held, max_);
  for (;;) {
    if (classify_) {
      // The first bytes of the line at line_ say what it is: the empty line, a continuation, a field.
      if (line_ >= window) break;
      const char c = f[line_];
      uint32_t header_end = 0;
      if (c == '\n') {
        header_end = line_ + 1;
      } else if (c == '\r') {
        if (line_ + 1 >= window) break;
        if (f[line_ + 1] == '\n') header_end = line_ + 2;
      }
      if (!is_wsp(c)) {
        if (const char* why = end_field(line_)) return fail(why);
      }
      if (header_end != 0) {
        if (!has_length_) return fail("Content-Length missing");
        if (uint64_t(header_end) + length_ > max_) return fail("message too large");
        length_ += header_end;
        state_ = State::Body;
        return body();
      }
      candidate_ = sip::to_lower(c) == 'c' || sip::to_lower(c) == 'l';
      classify_ = false;
      scan_ = line_;
    }
    const void* lf = std::memchr(f + scan_, '\n', window - scan_);
    if (lf == nullptr) {
      scan_ = window;
      break;
    }
    const uint32_t at = uint32_t(static_cast<const char*>(lf) - f);
    if (candidate_) first_line(at);
    candidate_ = false;
    line_ = at + 1;
    classify_ = true;
  }
  if (held > max_) return fail("headers too long");
  return {};
}

Frame Framer::body() {
  if (end_ - begin_ < length_) return {};
  const std::string_view msg(buf_.get() + begin_, length_);
  begin_ += length_;
  state_ = State::Between;
  return {FrameKind::Message, msg, ""};
}

void Framer::first_line(uint32_t lf) {
  const char* f = buf_.get() + begin_;
  const void* colon = std::memchr(f + line_, ':', lf - line_);
  if (colon == nullptr) return;  // not a header line: the parser refuses it
  const uint32_t at = uint32_t(static_cast<const char*>(colon) - f);
  uint32_t name_end = at;
  while (name_end > line_ && is_wsp(f[name_end - 1])) --name_end;
  const std::string_view name(f + line_, name_end - line_);
  const bool compact = name.size() == 1 && sip::to_lower(name[0]) == 'l';
  if (compact || sip::iequals(name, "content-length")) value_ = at + 1;
}

const char* Framer::end_field(uint32_t end) {
  if (value_ == 0) return nullptr;
  const std::string_view value(buf_.get() + begin_ + value_, end - value_);
  value_ = 0;
  uint32_t v = 0;
  if (const char* why = parse_length(sip::trim(value), max_, v)) return why;
  if (has_length_ && v != length_) return "Content-Length values disagree";
  has_length_ = true;
  length_ = v;
  return nullptr;
}

static_assert(sizeof(Framer) <= 64, "one Framer per connection: keep it small");

}  // namespace sipd::tcp
