// libFuzzer target for the stream framer (control/tcp/framer.h): feeds the input to a Framer in reads whose
// sizes the fuzzer picks, and again in reads as large as the framer allows, and checks the invariants
// callers rely on: the two give the same frames (framing never depends on how reads split the bytes);
// every frame is the next bytes of the stream (nothing lost, nothing repeated, everything accounted for);
// a Message is non-empty, starts with neither CR nor LF and is within max_message, and when the SIP parser
// accepts it as a stream message it finds the same length; Ping and Pong hold only keep-alive bytes;
// space() is never empty before an Error and never offers less than kSlack once drained; an Error is
// final; the buffer never grows past max_message + kSlack.
//
// Input layout: STREAM, then K read-size bytes, then one control byte. The control byte's low 4 bits are
// K, bit 4 picks the lazy buffer, the top 3 bits one of eight max_message values. A read-size byte b reads
// b + 1 bytes (1-240) or, from 0xF0, (b - 0xEF) * 4 KiB; the sizes repeat in turn. K = 0 reads as much as
// the framer allows each time.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "control/tcp/framer.h"
#include "dataplane/sip/message.h"

namespace {

using sipd::tcp::Frame;
using sipd::tcp::FrameKind;
using sipd::tcp::Framer;
using sipd::tcp::FramerLimits;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "stream_framer_fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

// The default twice, some in between, and the smallest the framer takes (16).
constexpr uint32_t kLimits[8] = {65536, 65536, 4096, 1024, 300, 64, 17, 16};

struct Seen {
  FrameKind kind;
  size_t offset;
  size_t size;
  const char* error;
  bool operator==(const Seen& o) const {
    return kind == o.kind && offset == o.offset && size == o.size &&
           (kind != FrameKind::Error || std::strcmp(error, o.error) == 0);
  }
};

struct Run {
  std::vector<Seen> frames;
  size_t buffered = 0;
  bool partial = false;
};

void check_frame(const Frame& f, std::string_view stream, size_t offset, uint32_t max) {
  if (f.kind == FrameKind::Error) {
    check(f.error != nullptr && f.error[0] != '\0', "an Error says why");
    check(f.bytes.empty(), "an Error holds no bytes");
    return;
  }
  check(!f.bytes.empty(), "a frame is not empty");
  check(offset + f.bytes.size() <= stream.size(), "a frame lies within what was sent");
  check(std::memcmp(f.bytes.data(), stream.data() + offset, f.bytes.size()) == 0,
        "a frame is the next bytes of the stream");
  if (f.kind == FrameKind::Ping) {
    check(f.bytes == "\r\n\r\n", "a Ping is CRLFCRLF");
  } else if (f.kind == FrameKind::Pong) {
    check(f.bytes == "\r\n" || f.bytes == "\n" || f.bytes == "\r", "a Pong is one line end");
  } else {
    check(f.kind == FrameKind::Message, "a known kind");
    check(f.bytes.size() <= max, "a message is within max_message");
    check(f.bytes[0] != '\r' && f.bytes[0] != '\n', "a message does not start with CR or LF");
    if (f.bytes.size() <= sipd::sip::Message::kMaxSize) {
      static sipd::sip::Message msg;
      if (msg.parse(f.bytes, sipd::sip::Framing::Stream) == sipd::sip::Defect::None)
        check(msg.message().size() == f.bytes.size(), "the parser frames the message the same way");
    }
  }
}

// Feeds `stream` in reads of `sizes` (empty: as large as allowed), checking every step.
Run feed(std::string_view stream, const FramerLimits& limits, const uint8_t* sizes, size_t nsizes) {
  Framer fr(limits);
  Run run;
  size_t at = 0, consumed = 0, turn = 0;
  bool failed = false;
  while (at < stream.size() && !failed) {
    const std::span<char> s = fr.space();
    check(!s.empty(), "space() is not empty before an Error");
    check(s.size() >= Framer::kSlack, "space() offers kSlack once drained");
    check(fr.allocated() <= size_t(limits.max_message) + Framer::kSlack,
          "the buffer stays within max_message + kSlack");
    size_t n = s.size();
    if (nsizes > 0) {
      const uint8_t b = sizes[turn++ % nsizes];
      n = b < 0xF0 ? size_t(b) + 1 : size_t(b - 0xEF) * 4096;
    }
    n = std::min({n, s.size(), stream.size() - at});
    std::memcpy(s.data(), stream.data() + at, n);
    fr.commit(n);
    at += n;
    for (;;) {
      const Frame f = fr.next();
      if (f.kind == FrameKind::NeedMore) break;
      check_frame(f, stream, consumed, limits.max_message);
      run.frames.push_back({f.kind, consumed, f.bytes.size(), f.error});
      consumed += f.bytes.size();
      check(consumed + fr.buffered() == at, "every byte is handed out or held");
      if (f.kind == FrameKind::Error) {
        failed = true;
        const Frame again = fr.next();
        check(again.kind == FrameKind::Error && std::strcmp(again.error, f.error) == 0, "an Error is final");
        check(fr.space().empty(), "no space after an Error");
        check(!fr.partial(), "nothing partial after an Error");
        break;
      }
    }
    if (failed) break;
    check(consumed + fr.buffered() == at, "every byte is handed out or held");
    check(!fr.partial() || fr.buffered() > 0, "a partial message holds bytes");
    check(fr.partial() || fr.buffered() <= 3, "only a keep-alive's start is held between messages");
    check(fr.buffered() <= limits.max_message || !fr.partial(), "a held message is within max_message");
    if (limits.lazy_buffer) {
      fr.release();
      check(fr.buffered() > 0 || fr.allocated() == 0, "a lazy framer holding nothing holds no buffer");
    }
  }
  if (failed) fr.release();
  run.buffered = fr.buffered();
  run.partial = fr.partial();
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[size - 1];
  size_t nsizes = control & 15;
  if (nsizes > size - 1) nsizes = size - 1;
  const std::string_view stream(reinterpret_cast<const char*>(data), size - 1 - nsizes);
  const uint8_t* sizes = data + stream.size();
  FramerLimits limits;
  limits.max_message = kLimits[control >> 5];
  limits.lazy_buffer = (control & 16) != 0;

  const Run split = feed(stream, limits, sizes, nsizes);
  const Run whole = feed(stream, limits, nullptr, 0);
  check(split.frames == whole.frames, "the same frames however the reads split the stream");
  check(split.buffered == whole.buffered && split.partial == whole.partial, "the same state at the end");
  return 0;
}
