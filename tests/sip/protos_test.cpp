// Robustness of the SIP message core against real outside inputs: the PROTOS c07-sip test suite (4,527
// INVITEs, each with one anomaly) and pjproject's fuzz seed corpora. Every input goes through what the
// dataplane does with a received datagram: Message::parse, validate(), and for an accepted request an
// EditList round trip (new top Via, Max-Forwards rewritten, build, parse the output again).
//
// The PROTOS archive is unpacked with tar into a temporary directory per test (ctest runs each TEST in its
// own process, so each extracts only the block of cases it checks) and removed afterwards. The format and
// the placeholders are described in shared/testdata/CORPORA.md.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/sip/builder.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/scan.h"
#include "dataplane/sip/validate.h"
#include "tests/testdata.h"

namespace sipd::sip {
namespace {

namespace fs = std::filesystem;

constexpr size_t kCaseCount = 4527;
constexpr size_t kBlock = 500;
constexpr auto kCaseBound = std::chrono::milliseconds(50);
constexpr std::string_view kOurVia = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-sipd-protos";

// A directory under /tmp that is removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sipd-protos-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool run_ok(const std::string& command) {
  const int rc = std::system(command.c_str());
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

// Case files are named by a 7-digit zero-padded number. Block b holds cases [500b, 500b+500): the shell
// pattern "testcases/000T[0-4]??" (or [5-9]) with T the thousands digit selects exactly those.
std::string block_pattern(size_t block) {
  return "testcases/000" + std::to_string(block / 2) + (block % 2 ? "[5-9]" : "[0-4]") + "??";
}

// Extracts the case files matching the shell pattern into `dir`; returns their paths in case order.
std::vector<std::string> extract(const TempDir& dir, const std::string& pattern) {
  const std::string archive = test::testdata_dir() + "/protos-c07/c07-sip-r2-testcases.tar.gz";
  const std::string command =
      "tar -xzf '" + archive + "' -C '" + dir.path() + "' --wildcards '" + pattern + "'";
  EXPECT_TRUE(run_ok(command)) << command;
  if (!fs::is_directory(dir.path() + "/testcases")) return {};
  return test::list_dir(dir.path() + "/testcases");
}

bool first_record(std::string_view file, std::string& out) { return test::protos_first_record(file, out); }

std::string instantiate(std::string pdu, size_t number) {
  return test::protos_instantiate(
      std::move(pdu), number,
      {"bob@192.0.2.1", "protos@client.example.com", "client.example.com", "192.0.2.10"});
}

struct Tally {
  size_t processed = 0, accepted = 0, dropped = 0;
  std::map<uint16_t, size_t> status;
  std::map<std::string_view, size_t> defects;

  void print(const char* label) const {
    std::printf("[protos %s] %zu cases: %zu accepted, %zu dropped", label, processed, accepted, dropped);
    for (const auto& [code, n] : status) std::printf(", %u x%zu", unsigned(code), n);
    std::printf("\n");
    for (const auto& [reason, n] : defects)
      std::printf("[protos %s]   %5zu  %.*s\n", label, n, int(reason.size()), reason.data());
  }
};

// What the dataplane does with one datagram. Returns the verdict; checks the round trip when accepted.
struct Pipeline {
  Message msg, again;
  std::array<char, 70000> out;

  Verdict run(std::string_view pdu, const std::string& where) {
    const Defect parsed = msg.parse(pdu);
    const Verdict verdict = validate(msg, parsed);
    if (verdict.action != Action::Accept) return verdict;

    EditList edits(msg);
    EXPECT_TRUE(edits.add_top_via(kOurVia)) << where;
    EXPECT_TRUE(edits.set_max_forwards(69)) << where;
    const BuildResult built = edits.build(out.data(), out.size());
    EXPECT_TRUE(built.ok()) << where << ": build error " << int(built.error);
    if (!built.ok()) return verdict;
    const std::string_view rebuilt(out.data(), built.size);
    const Defect reparsed = again.parse(rebuilt);
    EXPECT_EQ(reparsed, Defect::None) << where << ": rebuilt message does not parse\n"
                                      << rebuilt.substr(0, 2000);
    const Verdict second = validate(again, reparsed);
    EXPECT_EQ(second.action, Action::Accept)
        << where << ": rebuilt message is not accepted: " << defect_info(second.defect).reason;
    EXPECT_EQ(again.first_value(HeaderId::Via), kOurVia) << where;
    EXPECT_EQ(again.first_value(HeaderId::MaxForwards), "69") << where;
    return verdict;
  }
};

// Case #0 with its placeholders filled in.
std::string valid_case() {
  TempDir dir;
  EXPECT_FALSE(dir.path().empty());
  const std::vector<std::string> files = extract(dir, "testcases/0000000");
  EXPECT_EQ(files.size(), 1u);
  if (files.empty()) return {};
  std::string pdu;
  EXPECT_TRUE(first_record(test::read_file(files[0]), pdu));
  return instantiate(pdu, 0);
}

// Runs one block of cases through the pipeline. After each case the valid case #0 is run again, as the
// PROTOS tool's -validcase mode does: a case that corrupted reused state would show there.
// The three structural-scan kernels agree on every PROTOS PDU (the scan tests cover the other corpora).
void expect_kernels_agree(const std::string& pdu, const std::string& where) {
  constexpr size_t kCap = Message::kMaxHeaders + 64;
  static LineMark reference[kCap], other[kCap];
  const ScanResult want = scan_lines_with(ScanKernel::Scalar, pdu.data(), pdu.size(), reference, kCap);
  for (ScanKernel k : {ScanKernel::Sse42, ScanKernel::Avx2}) {
    if (!kernel_supported(k)) continue;
    const ScanResult got = scan_lines_with(k, pdu.data(), pdu.size(), other, kCap);
    ASSERT_EQ(got.lines, want.lines) << where << " " << to_string(k);
    ASSERT_EQ(got.complete, want.complete) << where << " " << to_string(k);
    ASSERT_EQ(got.overflow, want.overflow) << where << " " << to_string(k);
    ASSERT_EQ(got.header_end, want.header_end) << where << " " << to_string(k);
    for (uint32_t i = 0; i < want.lines; ++i) {
      ASSERT_EQ(other[i].end, reference[i].end) << where << " line " << i;
      ASSERT_EQ(other[i].colon, reference[i].colon) << where << " line " << i;
    }
  }
}

void run_block(size_t block) {
  const size_t first = block * kBlock;
  const size_t expected = std::min(kBlock, kCaseCount - first);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::vector<std::string> files = extract(dir, block_pattern(block));
  ASSERT_EQ(files.size(), expected) << "cases in block " << block;

  auto pipeline = std::make_unique<Pipeline>();
  const std::string valid = valid_case();
  ASSERT_FALSE(valid.empty());

  Tally tally;
  for (size_t k = 0; k < files.size(); ++k) {
    const size_t number = first + k;
    const std::string where = "case " + std::to_string(number);
    ASSERT_EQ(fs::path(files[k]).filename().string(), [&] {
      char name[16];
      std::snprintf(name, sizeof name, "%07zu", number);
      return std::string(name);
    }());
    std::string record;
    ASSERT_TRUE(first_record(test::read_file(files[k]), record)) << where << ": malformed testcase file";
    const std::string pdu = instantiate(std::move(record), number);
    expect_kernels_agree(pdu, where);

    const auto t0 = std::chrono::steady_clock::now();
    const Verdict v = pipeline->run(pdu, where);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(elapsed, kCaseBound) << where << " took "
                                   << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
                                   << " us";

    ++tally.processed;
    if (v.action == Action::Accept) ++tally.accepted;
    if (v.action == Action::Drop) ++tally.dropped;
    if (v.action == Action::Reply) {
      ++tally.status[v.status];
      ++tally.defects[defect_info(v.defect).reason];
    }
    if (number == 0) {
      EXPECT_EQ(v.action, Action::Accept) << "the valid case #0: " << defect_info(v.defect).reason;
    }

    const Verdict after = pipeline->run(valid, "valid case after " + where);
    ASSERT_EQ(after.action, Action::Accept) << "valid case after " << where;
  }
  EXPECT_EQ(tally.processed, expected);
  const std::string label = "cases " + std::to_string(first) + "-" + std::to_string(first + expected - 1);
  tally.print(label.c_str());
}

TEST(protos, valid_case_is_accepted) {
  const std::string pdu = valid_case();
  ASSERT_FALSE(pdu.empty());
  EXPECT_EQ(pdu.find('<'), pdu.find("<sip:"));  // every placeholder filled in
  auto msg = std::make_unique<Message>();
  ASSERT_EQ(msg->parse(pdu), Defect::None) << pdu;
  const Verdict v = validate(*msg, Defect::None);
  EXPECT_EQ(v.action, Action::Accept) << defect_info(v.defect).reason << "\n" << pdu;
  EXPECT_EQ(msg->method(), Method::Invite);
  EXPECT_EQ(msg->request_uri(), "sip:bob@192.0.2.1");
  EXPECT_EQ(msg->body().size(), 129u);  // the SDP with <From-Address> and <From-IP> filled in
  EXPECT_EQ(msg->first_value(HeaderId::ContentLength), "129");
  EXPECT_EQ(msg->first_value(HeaderId::CallId), "0@client.example.com");
}

TEST(protos, cases_0000_0499) { run_block(0); }
TEST(protos, cases_0500_0999) { run_block(1); }
TEST(protos, cases_1000_1499) { run_block(2); }
TEST(protos, cases_1500_1999) { run_block(3); }
TEST(protos, cases_2000_2499) { run_block(4); }
TEST(protos, cases_2500_2999) { run_block(5); }
TEST(protos, cases_3000_3499) { run_block(6); }
TEST(protos, cases_3500_3999) { run_block(7); }
TEST(protos, cases_4000_4499) { run_block(8); }
TEST(protos, cases_4500_4526) { run_block(9); }

// ---- pjproject seed corpora ----------------------------------------------------------------------------

// LF not preceded by CR becomes CRLF; bare CRs stay as they are.
std::string lf_to_crlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 16);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
    out.push_back(in[i]);
  }
  return out;
}

std::vector<std::string> seed_files() {
  std::vector<std::string> files;
  for (const char* sub : {"fuzz-sip_seed_corpus", "fuzz-sip-dialog_seed_corpus"})
    for (std::string& f : test::list_dir(test::testdata_dir() + "/pjsip-seeds/" + sub))
      files.push_back(std::move(f));
  return files;
}

// Seeds that are not acceptable even with CRLF line ends, and what the proxy answers. Each was looked at
// by hand and the answer is the right one:
// - input.1: a stress input with bare CRs inside lines ("...;tag=123...\rTo: Fellow User..."), so the To
//   header is glued onto the From line and there is no To field at all.
// - input.4: cut off in the middle of the To header (245 bytes, holds a NUL): no empty line.
// - multipart_alternative, multipart_basic: Content-Length says 245 and 301, but the bodies hold 203 and
//   239 bytes (212 and 253 with CRLF): the seeds' lengths are simply wrong, so as datagrams they are
//   truncated (RFC 3261 18.3: 400).
// - the three dialog seeds end right after "Content-Length: 0\n": there is no empty line, so the header
//   block never ends (pjsip feeds them to its dialog fuzzer, not to its message parser).
struct Expectation {
  std::string_view file;
  Defect defect;
};
constexpr Expectation kNotAccepted[] = {
    {"input.1.sip", Defect::MissingHeader},
    {"input.4.sip", Defect::HeadersIncomplete},
    {"multipart_alternative.sip", Defect::BodyTruncated},
    {"multipart_basic.sip", Defect::BodyTruncated},
    {"basic_invite.sip", Defect::HeadersIncomplete},
    {"invite_with_routes.sip", Defect::HeadersIncomplete},
    {"minimal_invite.sip", Defect::HeadersIncomplete},
};

std::string describe(const Verdict& v) {
  if (v.action == Action::Accept) return "accepted";
  return std::string(v.action == Action::Drop ? "dropped: " : "reply: ") +
         std::string(defect_info(v.defect).reason);
}

TEST(pjsip_seeds, parse_as_is_and_with_crlf) {
  auto msg = std::make_unique<Message>();
  auto pipeline = std::make_unique<Pipeline>();
  const std::vector<std::string> files = seed_files();
  ASSERT_EQ(files.size(), 19u);
  size_t accepted = 0;
  for (const std::string& path : files) {
    const std::string raw = test::read_file(path);
    const std::string name = fs::path(path).filename().string();
    // As-is (many are LF-only, some hold bare CRs): anything but a crash or a hang is fine.
    (void)frame_stream(raw);
    (void)validate(*msg, msg->parse(raw, Framing::Stream));
    const Verdict as_is = validate(*msg, msg->parse(raw));

    const std::string crlf = lf_to_crlf(raw);
    (void)frame_stream(crlf);
    (void)validate(*msg, msg->parse(crlf, Framing::Stream));
    const Verdict v = validate(*msg, msg->parse(crlf));
    std::printf("[pjsip_seeds] %-26s as-is %-45s with CRLF %s\n", name.c_str(), describe(as_is).c_str(),
                describe(v).c_str());
    if (!name.ends_with(".sip")) continue;  // simple_uris.txt holds bare URIs, not a message

    const Expectation* e = nullptr;
    for (const Expectation& x : kNotAccepted)
      if (x.file == name) e = &x;
    if (e == nullptr) {
      EXPECT_EQ(v.action, Action::Accept) << name << ": " << describe(v);
      accepted += v.action == Action::Accept;
      (void)pipeline->run(crlf, name + " with CRLF");  // the edit round trip, as for PROTOS
    } else {
      EXPECT_EQ(v.action, Action::Reply) << name;
      EXPECT_EQ(v.defect, e->defect) << name << ": " << describe(v);
    }
  }
  EXPECT_EQ(accepted, 11u);
}

}  // namespace
}  // namespace sipd::sip
