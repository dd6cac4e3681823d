// Tests for dataplane/sip/scan.h: the three structural-scan kernels give the same ScanResult and LineMarks
// as a plain reference model written here, on the shared corpora, on synthetic inputs aimed at the 64-byte
// block edges, on every prefix of a few messages and on random inputs; no kernel reads a byte outside its
// input (guard pages on both sides); and Message::parse gives the same result whichever kernel is active.
#include "dataplane/sip/scan.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/sip/message.h"
#include "tests/testdata.h"

namespace sipd::sip {
namespace {

constexpr ScanKernel kKernels[] = {ScanKernel::Scalar, ScanKernel::Sse42, ScanKernel::Avx2};
constexpr size_t kCap = Message::kMaxHeaders + 64;

std::vector<ScanKernel> supported_kernels() {
  std::vector<ScanKernel> out;
  for (ScanKernel k : kKernels)
    if (kernel_supported(k)) out.push_back(k);
  return out;
}

struct Scan {
  ScanResult r;
  std::vector<LineMark> marks;  // the first r.lines entries
};

// The contract of scan.h written as plainly as possible, independent of the kernels' Walker.
Scan reference_scan(std::string_view in, size_t cap) {
  Scan s{};
  size_t line_start = 0;
  uint32_t colon = kNoColon;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == ':' && colon == kNoColon) colon = uint32_t(i);
    if (in[i] != '\n') continue;
    const std::string_view line = in.substr(line_start, i - line_start);
    if (line.empty() || line == "\r") {
      s.r.complete = true;
      s.r.header_end = uint32_t(i + 1);
      break;
    }
    if (s.marks.size() == cap) {
      s.r.overflow = true;
      break;
    }
    s.marks.push_back({uint32_t(i), colon});
    line_start = i + 1;
    colon = kNoColon;
  }
  s.r.lines = uint32_t(s.marks.size());
  return s;
}

// Runs one kernel; checks that it writes no mark past r.lines (sentinels after them stay untouched).
Scan run_kernel(ScanKernel k, const char* buf, size_t len, size_t cap) {
  constexpr LineMark kSentinel{0xdeadbeef, 0xfeedface};
  std::vector<LineMark> marks(cap + 8, kSentinel);
  Scan s{};
  s.r = scan_lines_with(k, buf, len, marks.data(), cap);
  EXPECT_LE(s.r.lines, cap) << to_string(k);
  for (size_t i = s.r.lines; i < marks.size(); ++i) {
    EXPECT_EQ(marks[i].end, kSentinel.end) << to_string(k) << ": mark " << i << " written past r.lines";
    EXPECT_EQ(marks[i].colon, kSentinel.colon) << to_string(k) << ": mark " << i << " written past r.lines";
  }
  marks.resize(std::min<size_t>(s.r.lines, cap));
  s.marks = std::move(marks);
  return s;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return s.size() > 200 ? out + "..." : out;
}

// Every supported kernel agrees with the reference on `in`; returns the number of mismatching kernels.
int expect_kernels_agree(std::string_view in, size_t cap, const std::string& what) {
  const Scan want = reference_scan(in, cap);
  int bad = 0;
  for (ScanKernel k : supported_kernels()) {
    const Scan got = run_kernel(k, in.data(), in.size(), cap);
    const bool same =
        got.r.lines == want.r.lines && got.r.complete == want.r.complete &&
        got.r.overflow == want.r.overflow && (!want.r.complete || got.r.header_end == want.r.header_end) &&
        std::equal(got.marks.begin(), got.marks.end(), want.marks.begin(), want.marks.end(),
                   [](const LineMark& a, const LineMark& b) { return a.end == b.end && a.colon == b.colon; });
    if (!same) {
      ++bad;
      ADD_FAILURE() << to_string(k) << " differs from the reference on " << what << " (len " << in.size()
                    << ", cap " << cap << "): lines " << got.r.lines << "/" << want.r.lines << " complete "
                    << got.r.complete << "/" << want.r.complete << " overflow " << got.r.overflow << "/"
                    << want.r.overflow << " header_end " << got.r.header_end << "/" << want.r.header_end
                    << "\n"
                    << printable(in);
    }
  }
  return bad;
}

// Message::parse strips leading CR/LF before scanning (RFC 3261 7.5); the scan contract expects that.
std::string_view strip_leading_crlf(std::string_view s) {
  while (!s.empty() && (s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}

std::vector<std::string> corpus_files() {
  const std::string root = test::testdata_dir();
  std::vector<std::string> files;
  for (const char* dir : {"/rfc4475", "/rfc5118", "/rfc5118/wire", "/pjsip-seeds/fuzz-sip_seed_corpus",
                          "/pjsip-seeds/fuzz-sip-dialog_seed_corpus", "/pjsip-seeds/fuzz-uri_seed_corpus"})
    for (std::string& f : test::list_dir(root + dir)) files.push_back(std::move(f));
  return files;
}

// The PROTOS valid case #0, placeholders left in (the scan does not care): the first record of the file.
std::string protos_valid_case() {
  const std::string file =
      test::read_file(test::testdata_dir() + "/protos-c07/testcase-0000000-validcase.raw");
  const size_t sp = file.find(' ');
  const size_t len = std::stoul(file.substr(0, sp));
  return file.substr(sp + 1, len);
}

// A realistic request with a body, used for the prefix and guard-page tests.
const std::string kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK-524287-1---0a1b2c3d\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    "Max-Forwards: 69\r\n"
    "Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Subject: folded\r\n"
    " continuation: with a colon\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 31\r\n"
    "\r\n"
    "v=0\r\n"
    "o=- 1 1 IN IP4 192.0.2.1\r\n";

// ---- kernels against the reference -------------------------------------------------------------------

TEST(scan, kernels_listed) {
  ASSERT_TRUE(kernel_supported(ScanKernel::Scalar));
  for (ScanKernel k : kKernels)
    std::printf("[scan] %s: %s\n", std::string(to_string(k)).c_str(),
                kernel_supported(k) ? "supported" : "skipped (CPU lacks it)");
  EXPECT_TRUE(kernel_supported(active_scan_kernel()));
}

// The reference model itself, on a hand-worked input.
TEST(scan, reference_model) {
  const std::string in = "A:b\r\nCD\n\r\nX:";
  const Scan s = reference_scan(in, kCap);
  ASSERT_EQ(s.r.lines, 2u);
  EXPECT_EQ(s.marks[0].end, 4u);
  EXPECT_EQ(s.marks[0].colon, 1u);
  EXPECT_EQ(s.marks[1].end, 7u);
  EXPECT_EQ(s.marks[1].colon, kNoColon);
  EXPECT_TRUE(s.r.complete);
  EXPECT_FALSE(s.r.overflow);
  EXPECT_EQ(s.r.header_end, 10u);
  expect_kernels_agree(in, kCap, "hand-worked input");
}

TEST(scan, corpora) {
  size_t n = 0;
  for (const std::string& path : corpus_files()) {
    const std::string bytes = test::read_file(path);
    expect_kernels_agree(strip_leading_crlf(bytes), kCap, path);
    expect_kernels_agree(strip_leading_crlf(bytes), 3, path + " (cap 3)");
    ++n;
  }
  EXPECT_GE(n, 50u + 12u + 12u + 19u);
  expect_kernels_agree(protos_valid_case(), kCap, "PROTOS valid case");
  expect_kernels_agree(kInvite, kCap, "kInvite");
}

// A first line whose LF sits exactly at `at`, then a header and the empty line; optionally a colon at
// `colon_at` inside the first line.
std::string lf_at(size_t at, size_t colon_at = SIZE_MAX) {
  std::string s(at, 'a');
  if (colon_at < at) s[colon_at] = ':';
  s += '\n';
  return s + "B: c\r\n\r\nbody";
}

TEST(scan, line_ends_on_block_edges) {
  for (size_t at : {1, 2, 15, 16, 17, 31, 32, 33, 62, 63, 64, 65, 66, 126, 127, 128, 129, 191, 192, 193}) {
    expect_kernels_agree(lf_at(at), kCap, "LF at " + std::to_string(at));
    // The same with CRLF: the CR sits one before the edge.
    std::string crlf = lf_at(at);
    crlf[at - 1] = '\r';
    expect_kernels_agree(crlf, kCap, "CRLF ending at " + std::to_string(at));
    // The empty line's LF on the edge: header lines fill the bytes before it.
    std::string empty_on_edge = "H: " + std::string(at > 6 ? at - 6 : 0, 'x') + "\r\n\r\n";
    expect_kernels_agree(empty_on_edge, kCap, "empty line near " + std::to_string(at));
  }
}

TEST(scan, colons_on_block_edges) {
  for (size_t colon : {0, 1, 31, 32, 62, 63, 64, 65, 127, 128})
    expect_kernels_agree(lf_at(200, colon), kCap, "colon at " + std::to_string(colon));
  // The first byte of a block is a colon that opens the line after an LF at offset 63; and the LF at 64
  // with the next line's colon at 65.
  std::string s = lf_at(63);
  s.insert(64, ":");
  expect_kernels_agree(s, kCap, "colon at 64 just after an LF at 63");
  s = lf_at(64);
  s.insert(65, ":");
  expect_kernels_agree(s, kCap, "colon at 65 just after an LF at 64");
  // A colon at 63 and the line's LF at 64: the colon belongs to the line that ends in the next block.
  expect_kernels_agree(lf_at(64, 63), kCap, "colon at 63, LF at 64");
  expect_kernels_agree(lf_at(65, 64), kCap, "colon at 64, LF at 65");
  // Several colons per line, lines in the same block, a colon in the line after one without.
  expect_kernels_agree("A:b:c:d\nE\nF::G\n:\n::\n\n", kCap, "many colons");
  std::string wide;
  for (int i = 0; i < 40; ++i)
    wide += std::string(size_t(i % 7), 'n') + ":" + std::string(size_t(i % 5), ':') + "v\n";
  expect_kernels_agree(wide + "\n", kCap, "colons every few bytes");
  // A line of 200 colons spanning blocks, and a line whose only colon is 130 bytes in.
  expect_kernels_agree("X" + std::string(200, ':') + "\r\n\r\n", kCap, "colon run");
  expect_kernels_agree(std::string(130, 'a') + ":b\r\n\r\n", kCap, "late colon");
}

TEST(scan, carriage_returns) {
  expect_kernels_agree("A: b\r\n\r\n", kCap, "CRLF CRLF");
  expect_kernels_agree("A: b\n\n", kCap, "LF LF");
  expect_kernels_agree("A: b\n\r\n", kCap, "LF CRLF");
  expect_kernels_agree("A: b\r\n\r\r\n\r\n", kCap, "a line of two CRs is not empty");
  expect_kernels_agree("A: b\rC: d\r\n\r\n", kCap, "bare CR inside a line");
  expect_kernels_agree("A: b\r\r\r\r", kCap, "CR-only line ends: never complete");
  expect_kernels_agree(std::string(300, '\r'), kCap, "only CRs");
  expect_kernels_agree("A\r\n" + std::string(100, '\r') + "\n\r\n", kCap, "long CR line");
}

TEST(scan, incomplete_and_empty) {
  expect_kernels_agree("", kCap, "empty input");
  expect_kernels_agree("A", kCap, "one byte");
  expect_kernels_agree(":", kCap, "one colon");
  expect_kernels_agree("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", kCap, "no empty line");
  expect_kernels_agree("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r", kCap, "CR of the empty line only");
  expect_kernels_agree(std::string(64, 'a'), kCap, "one block, no LF");
  expect_kernels_agree(std::string(64, 'a') + "\n", kCap, "LF right after a full block");
  const std::string no_end = kInvite.substr(0, kInvite.find("\r\n\r\n") + 2);
  expect_kernels_agree(no_end, kCap, "kInvite without its empty line");
  // Nothing is scanned past the empty line: an LF-only body line does not change the result.
  expect_kernels_agree("A: b\r\n\r\n\n\n\n:::", kCap, "stuff after the empty line");
}

TEST(scan, large_messages) {
  // 64 KB: as many header lines as fit, then one long value, then the empty line.
  std::string many = "INVITE sip:a@b SIP/2.0\r\n";
  for (int i = 0; many.size() < 65000; ++i)
    many += "X-H" + std::to_string(i) + ": " + std::string(size_t(i % 300), 'v') + "\r\n";
  many += "\r\n";
  expect_kernels_agree(many, 1 << 16, "64 KB message, many lines");
  expect_kernels_agree(many, kCap, "64 KB message, default cap");
  std::string one_line = "INVITE sip:a@b SIP/2.0\r\nX-Long: " + std::string(65400, 'z') + "\r\n\r\n";
  expect_kernels_agree(one_line, kCap, "64 KB message, one long line");
  std::string body = kInvite + std::string(65535 - kInvite.size(), '\n');
  expect_kernels_agree(body, kCap, "64 KB message, LF body");
}

TEST(scan, cap_overflow) {
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "H" + std::to_string(i) + ": v\r\n";
  const std::string done = ten + "\r\n";
  for (size_t cap : {0, 1, 2, 5, 9, 10, 11, 64}) {
    expect_kernels_agree(done, cap, "ten lines, cap " + std::to_string(cap));
    expect_kernels_agree(ten, cap, "ten lines, no end, cap " + std::to_string(cap));
  }
  // Exactly `cap` lines then the empty line is complete, not an overflow.
  const Scan exact = reference_scan(done, 10);
  EXPECT_TRUE(exact.r.complete);
  EXPECT_FALSE(exact.r.overflow);
  for (ScanKernel k : supported_kernels()) {
    const Scan got = run_kernel(k, done.data(), done.size(), 9);
    EXPECT_TRUE(got.r.overflow) << to_string(k);
    EXPECT_FALSE(got.r.complete) << to_string(k);
    EXPECT_EQ(got.r.lines, 9u) << to_string(k);
  }
  // More lines than Message's own table: 400 short lines (several per block).
  std::string lots;
  for (int i = 0; i < 400; ++i) lots += "a:\n";
  expect_kernels_agree(lots + "\n", kCap, "400 lines");
}

TEST(scan, every_prefix) {
  const std::string wsinv = test::read_file(test::testdata_dir() + "/rfc4475/wsinv.dat");
  for (const std::string& msg : {kInvite, wsinv, protos_valid_case()}) {
    for (size_t n = 0; n <= msg.size(); ++n) {
      if (expect_kernels_agree(std::string_view(msg).substr(0, n), kCap, "prefix " + std::to_string(n)) > 0)
        return;  // one report is enough
      expect_kernels_agree(std::string_view(msg).substr(0, n), 4, "prefix " + std::to_string(n) + ", cap 4");
    }
  }
}

TEST(scan, random_inputs) {
  // Mostly structural bytes, so lines, colons, CRs and empty lines land everywhere relative to the blocks.
  std::mt19937 rng(4475);
  const char alphabet[] = {'\n', '\r', ':', 'a', ' ', 'b', ':', '\n', 'c', 'd', 'e', 'f'};
  for (int round = 0; round < 3000; ++round) {
    const size_t len = rng() % 400;
    const size_t spread = 4 + rng() % (sizeof alphabet - 4);  // lower spread: denser structure
    std::string s(len, 'x');
    for (char& c : s) c = alphabet[rng() % spread];
    if (expect_kernels_agree(strip_leading_crlf(s), 1 + rng() % 64, "random " + std::to_string(round)) > 0)
      return;
  }
}

// ---- reads past the end --------------------------------------------------------------------------------

// Memory where the bytes of `in` end exactly at a PROT_NONE page (or, with at_start, begin right after
// one), so any read outside [data, data+size) faults.
class GuardedCopy {
 public:
  GuardedCopy(std::string_view in, bool at_start) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    const size_t data_pages = (in.size() + page - 1) / page + 1;
    total_ = (data_pages + 2) * page;
    void* p = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    char* const lo = base_ + page;                     // first usable byte
    char* const hi = base_ + (data_pages + 1) * page;  // first byte of the guard page above
    ok_ = mprotect(base_, page, PROT_NONE) == 0 && mprotect(hi, page, PROT_NONE) == 0;
    data_ = at_start ? lo : hi - in.size();
    if (!in.empty()) std::memcpy(data_, in.data(), in.size());
    size_ = in.size();
  }
  ~GuardedCopy() {
    if (base_) munmap(base_, total_);
  }
  GuardedCopy(const GuardedCopy&) = delete;
  GuardedCopy& operator=(const GuardedCopy&) = delete;

  bool ok() const { return ok_; }
  std::string_view view() const { return {data_, size_}; }

 private:
  char* base_ = nullptr;
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t total_ = 0;
  bool ok_ = false;
};

// Scans and parses `in` placed against each guard page with every kernel.
void run_guarded(std::string_view in, const std::string& what, Message& msg) {
  const ScanKernel saved = active_scan_kernel();
  for (bool at_start : {false, true}) {
    GuardedCopy g(in, at_start);
    ASSERT_TRUE(g.ok()) << what;
    const std::string_view v = g.view();
    for (ScanKernel k : supported_kernels()) {
      const Scan got = run_kernel(k, v.data(), v.size(), kCap);
      (void)got;
      ASSERT_TRUE(set_scan_kernel(k));
      (void)msg.parse(v);
      (void)msg.parse(v, Framing::Stream);
      (void)frame_stream(v);
    }
  }
  ASSERT_TRUE(set_scan_kernel(saved));
}

TEST(scan, guard_pages) {
  auto msg = std::make_unique<Message>();
  for (const std::string& path : corpus_files()) run_guarded(test::read_file(path), path, *msg);
  run_guarded("", "empty", *msg);
  run_guarded(protos_valid_case(), "PROTOS valid case", *msg);
  for (size_t at : {63, 64, 65, 127, 128}) run_guarded(lf_at(at), "LF at " + std::to_string(at), *msg);
  run_guarded(std::string(65535, 'a'), "64 KB without LF", *msg);
  run_guarded(std::string(65535, '\n'), "64 KB of LF", *msg);
  // Every prefix of a message: the end of the input falls on every byte of every line, with the tail
  // block copied or not.
  for (size_t n = 0; n <= kInvite.size(); ++n)
    run_guarded(std::string_view(kInvite).substr(0, n), "kInvite prefix " + std::to_string(n), *msg);
}

// ---- Message::parse does not depend on the kernel ------------------------------------------------------

struct Snapshot {
  Defect defect;
  std::vector<uint32_t> fields;  // every span, id and link the parser produced, flattened

  bool operator==(const Snapshot&) const = default;
};

void push(std::vector<uint32_t>& v, Span s) {
  v.push_back(s.off);
  v.push_back(s.len);
}

Snapshot snapshot(Message& msg, std::string_view in, Framing framing) {
  Snapshot s{msg.parse(in, framing), {}};
  auto& f = s.fields;
  f.push_back(msg.is_request());
  f.push_back(uint32_t(msg.method()));
  f.push_back(msg.status());
  push(f, msg.start_line_span());
  push(f, msg.request_uri_span());
  f.push_back(uint32_t(msg.method_text().data() - in.data()));
  f.push_back(uint32_t(msg.method_text().size()));
  f.push_back(uint32_t(msg.version().size()));
  f.push_back(uint32_t(msg.reason().size()));
  f.push_back(msg.header_end());
  push(f, msg.body_span());
  f.push_back(uint32_t(msg.message().size()));
  f.push_back(uint32_t(msg.header_count()));
  for (size_t i = 0; i < msg.header_count(); ++i) {
    const HeaderField& h = msg.header(i);
    push(f, h.line);
    push(f, h.name);
    push(f, h.value);
    f.push_back(uint32_t(h.id));
    f.push_back(h.next);
  }
  for (size_t id = 0; id < kHeaderIdCount; ++id) f.push_back(msg.first(HeaderId(id)));
  return s;
}

TEST(scan, parse_is_kernel_independent) {
  const ScanKernel saved = active_scan_kernel();
  auto msg = std::make_unique<Message>();
  std::vector<std::string> inputs;
  for (const std::string& path : corpus_files()) inputs.push_back(test::read_file(path));
  inputs.push_back(protos_valid_case());
  inputs.push_back(kInvite);
  for (size_t n = 0; n <= kInvite.size(); n += 7) inputs.push_back(kInvite.substr(0, n));
  std::string many = "OPTIONS sip:a@b SIP/2.0\r\n";
  for (int i = 0; i < 300; ++i)
    many += "X" + std::to_string(i) + ": " + std::string(size_t(i % 70), 'q') + "\r\n";
  inputs.push_back(many + "\r\n");  // too many headers

  for (const std::string& in : inputs) {
    for (Framing framing : {Framing::Datagram, Framing::Stream}) {
      ASSERT_TRUE(set_scan_kernel(ScanKernel::Scalar));
      const Snapshot want = snapshot(*msg, in, framing);
      for (ScanKernel k : supported_kernels()) {
        ASSERT_TRUE(set_scan_kernel(k));
        EXPECT_EQ(active_scan_kernel(), k);
        const Snapshot got = snapshot(*msg, in, framing);
        EXPECT_EQ(got.defect, want.defect) << to_string(k) << ": " << printable(in);
        EXPECT_TRUE(got == want) << to_string(k) << ": parse differs on " << printable(in);
      }
    }
  }
  ASSERT_TRUE(set_scan_kernel(saved));
  EXPECT_EQ(active_scan_kernel(), saved);
}

TEST(scan, set_kernel_refuses_unsupported) {
  const ScanKernel saved = active_scan_kernel();
  for (ScanKernel k : kKernels) {
    EXPECT_EQ(set_scan_kernel(k), kernel_supported(k));
    if (!kernel_supported(k)) {
      EXPECT_NE(active_scan_kernel(), k);
    }
  }
  ASSERT_TRUE(set_scan_kernel(saved));
}

}  // namespace
}  // namespace sipd::sip
