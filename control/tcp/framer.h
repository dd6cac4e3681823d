// The stream framer: turns the bytes of one TCP or TLS connection into SIP messages (RFC 3261 18.3), CRLF
// keep-alive pings and pongs (RFC 5626 3.5.1, 4.4.1), or the one error after which the stream cannot be
// framed any more. One Framer per connection; it owns the buffer the connection reads into, so a message
// is handed out as a view of that buffer and never copied.
//
// Who calls: sipd-control's connection table, on the thread that reads the connection (a Framer is not
// shared between threads). The calling pattern is
//     std::span<char> s = framer.space();            // read() / SSL_read() into s
//     framer.commit(n);
//     for (Frame f = framer.next(); f.kind != FrameKind::NeedMore; f = framer.next()) ...
// The caller owns every policy around the framing: answering a Ping with "\r\n", closing on Error (and
// logging `error`), the timeout for a message that never completes (partial(); RFC 4475 3.1.2.2: wait,
// then close), idle and connection limits. The framer never reads a socket, never parses more than it
// needs to find where a message ends, never blocks and never throws except std::bad_alloc when its
// buffer is allocated.
//
// The framing rules:
// - Between messages, CR and LF bytes are keep-alives, never part of a message: CRLF CRLF is a Ping; a
//   CRLF on its own (RFC 5626's pong, or the CRLF RFC 3261 7.5 allows before a start line) is a Pong, and
//   so are a bare LF and a stray CR, which are skipped the same way. A CRLF at the end of what arrived
//   waits for the next byte, so a ping split across reads is still a Ping. Any other byte starts a
//   message, even a space or garbage: the SIP parser decides what it is worth once it is framed.
// - A message is its header section, up to and including the first empty line (lines end in LF, a CR
//   before it belonging to the line, as dataplane/sip/scan.h reads them: CRLF CRLF, LF LF and LF CRLF all
//   end the headers), then exactly Content-Length bytes of body.
// - Content-Length is found as the SIP parser finds it: a header field (a line not starting with SP or
//   HTAB) whose name before the line's first colon is "Content-Length" or "l" in any case, whitespace
//   before the colon allowed; its value runs through any continuation lines and is trimmed of LWS. A
//   continuation line that reads "Content-Length: 5" is part of the field above it, not a header.
// - A Content-Length that is negative, not a number, larger than max_message, or different from an
//   earlier one is an Error as soon as its field ends (two that agree frame the message; the parser
//   answers that one with a 400). A message with no Content-Length is an Error: RFC 3261 18.3 and 20.14
//   make it mandatory on streams, and OpenSIPS's proto_tcp closes such a connection as well ("content
//   length not present or unparsable"), since without it the next message cannot be found.
// - A header section that has not ended within max_message bytes is an Error ("headers too long"), and
//   so is one whose Content-Length would take the message past max_message ("message too large").
// Every decision depends only on the bytes, never on how the reads split them: any split of a stream gives
// the same frames (the fuzz target checks this).
//
// Memory: one buffer of max_message + kSlack bytes (69,632 for the default), allocated in the constructor
// and never grown; consumed bytes are reclaimed by moving the unread tail to the front (each byte is
// moved at most once). With `lazy_buffer`, the buffer is allocated by space() only when bytes are about
// to arrive and given back by release() once nothing is held, so an idle connection costs sizeof(Framer)
// (56 bytes) and one that holds part of a message costs one buffer, never more. The scan is resumable:
// it remembers where it stopped, so one message arriving a byte per read is still read once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace sipd::tcp {

struct FramerLimits {
  uint32_t max_message = 65536;  // a message (headers + body) larger than this closes the connection;
                                 // clamped to [16, 16 MiB]
  bool lazy_buffer = false;      // allocate the buffer in space() and free it in release() (see above)
};

enum class FrameKind : uint8_t {
  NeedMore,  // nothing complete yet: read more into space()
  Message,   // `bytes` is one whole SIP message (start line to the end of its body)
  Ping,      // a CRLFCRLF keep-alive (RFC 5626 4.4.1): the caller answers with a CRLF pong
  Pong,      // a lone CRLF between messages (RFC 5626's pong, or the RFC 3261 7.5 CRLF before a message);
             // also a bare LF or a stray CR there
  Error,     // the stream can no longer be framed: the caller closes the connection; `error` says why
};

struct Frame {
  FrameKind kind = FrameKind::NeedMore;
  std::string_view bytes;  // Message: the message; Ping/Pong: the keep-alive bytes. Valid until the next
                           // call on the framer
  const char* error = "";  // Error: a short reason for the log line ("Content-Length is negative", ...)
};

class Framer {
 public:
  // Room past max_message: what a read can always add to a message held at its limit.
  static constexpr uint32_t kSlack = 4096;

  explicit Framer(const FramerLimits& limits = {});  // allocates its buffer once, here (max_message + slack),
                                                     // unless limits.lazy_buffer
  Framer(Framer&&) noexcept = default;
  Framer& operator=(Framer&&) noexcept = default;

  // Where the next read() goes: at least kSlack bytes once next() has returned NeedMore (call next()
  // until NeedMore before reading again). Empty only after an Error. May move the held bytes, so views
  // from earlier frames are invalid after it.
  std::span<char> space();
  // n bytes were written at space().data(); n <= space().size().
  void commit(size_t n);
  // The next frame from what was committed; call until NeedMore. After an Error, every call returns the
  // same Error.
  Frame next();

  // Bytes of an incomplete message are held (not a keep-alive): for the caller's "never completes"
  // timeout.
  bool partial() const { return state_ == State::Headers || state_ == State::Body; }
  // Bytes committed and not yet handed out as a frame.
  size_t buffered() const { return end_ - begin_; }
  // Bytes of buffer allocated now (0 for a lazy framer between messages).
  size_t allocated() const { return cap_; }
  // Lazy framers: frees the buffer when nothing is held (call it when a read finds the socket empty).
  // After an Error, frees it in either mode. Otherwise does nothing.
  void release();

 private:
  enum class State : uint8_t { Between, Headers, Body, Failed };

  Frame between();
  Frame headers();
  Frame body();
  Frame fail(const char* why);
  // The header field whose lines end at `end` (frame offset) is complete.
  const char* end_field(uint32_t end);
  // The first line of a field ends with the LF at `lf`: is it Content-Length?
  void first_line(uint32_t lf);

  std::unique_ptr<char[]> buf_;
  uint32_t cap_ = 0;    // allocated bytes
  uint32_t max_ = 0;    // max_message
  uint32_t begin_ = 0;  // first byte not handed out yet: the current frame starts here
  uint32_t end_ = 0;    // one past the last committed byte
  // The header scan, resumable; offsets are relative to begin_ so moving the bytes keeps them.
  uint32_t scan_ = 0;    // next byte memchr looks at for the current line's LF
  uint32_t line_ = 0;    // start of the current line
  uint32_t value_ = 0;   // start of the open Content-Length field's value, 0 when none is open
  uint32_t length_ = 0;  // Content-Length, once one was seen; in Body: the whole message's size
  bool has_length_ = false;
  bool classify_ = false;   // line_ starts a line whose first bytes were not looked at yet
  bool candidate_ = false;  // the current line starts a field whose name may be Content-Length
  bool lazy_ = false;
  State state_ = State::Between;
  const char* error_ = "";
};

}  // namespace sipd::tcp
