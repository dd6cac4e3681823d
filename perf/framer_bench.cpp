// Stream framer benchmarks (control/tcp/framer.h): the cost of turning TCP bytes into messages, per INVITE
// (perf/messages.h, about 700 bytes with SDP). Each iteration copies the bytes into space() as read()
// would, commits them and calls next() until NeedMore, so the copy is part of the figure:
//   framer/invite/whole       one INVITE per read
//   framer/invite/pipelined   16 INVITEs in one read (items/s counts INVITEs)
//   framer/invite/segments    one INVITE in three reads (200, 300 and the rest)
//   framer/invite/bytewise    one byte per read: the resumable scan's worst case
//   framer/invite/lazy        one INVITE per read with a lazy buffer, allocated and released each time
//   frame_stream/invite       dataplane/sip's one-shot frame_stream() on the whole INVITE, for comparison
//                             (no copy; it rescans from the start when called again with more bytes)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "control/tcp/framer.h"
#include "dataplane/sip/message.h"
#include "perf/messages.h"

namespace sipd::tcp {
namespace {

// Reads `bytes` in pieces of `piece` bytes and drains; returns the messages framed.
size_t feed(Framer& fr, const std::string& bytes, size_t piece) {
  size_t messages = 0;
  for (size_t at = 0; at < bytes.size();) {
    const std::span<char> s = fr.space();
    const size_t n = std::min({piece, s.size(), bytes.size() - at});
    std::memcpy(s.data(), bytes.data() + at, n);
    fr.commit(n);
    at += n;
    for (Frame f = fr.next(); f.kind != FrameKind::NeedMore; f = fr.next()) {
      benchmark::DoNotOptimize(f.bytes.data());
      messages += f.kind == FrameKind::Message;
    }
  }
  return messages;
}

void bm_pieces(benchmark::State& state, const std::string& bytes, size_t piece, size_t per_iteration,
               bool lazy) {
  Framer fr(FramerLimits{.max_message = 65536, .lazy_buffer = lazy});
  for (auto _ : state) {
    const size_t n = feed(fr, bytes, piece);
    if (lazy) fr.release();
    if (n != per_iteration) return state.SkipWithError("wrong number of messages");
  }
  state.SetItemsProcessed(int64_t(state.iterations() * per_iteration));
  state.SetBytesProcessed(int64_t(state.iterations() * bytes.size()));
}

void bm_segments(benchmark::State& state) {
  const std::string& m = sip::kInvite;
  Framer fr;
  for (auto _ : state) {
    size_t n = 0;
    for (const auto& [from, to] : {std::pair<size_t, size_t>{0, 200}, {200, 500}, {500, m.size()}}) {
      const std::span<char> s = fr.space();
      std::memcpy(s.data(), m.data() + from, to - from);
      fr.commit(to - from);
      for (Frame f = fr.next(); f.kind != FrameKind::NeedMore; f = fr.next())
        n += f.kind == FrameKind::Message;
    }
    if (n != 1) return state.SkipWithError("wrong number of messages");
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetBytesProcessed(int64_t(state.iterations() * m.size()));
}

void bm_frame_stream(benchmark::State& state) {
  const std::string& m = sip::kInvite;
  for (auto _ : state) {
    const char* p = m.data();
    benchmark::DoNotOptimize(p);
    const sip::StreamFrame f = sip::frame_stream(std::string_view(p, m.size()));
    benchmark::DoNotOptimize(f);
    if (f.status != sip::StreamStatus::Complete) return state.SkipWithError("not complete");
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetBytesProcessed(int64_t(state.iterations() * m.size()));
}

std::string times(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace
}  // namespace sipd::tcp

int main(int argc, char** argv) {
  using namespace sipd::tcp;
  static const std::string sixteen = times(sipd::sip::kInvite, 16);
  benchmark::RegisterBenchmark("framer/invite/whole", bm_pieces, sipd::sip::kInvite, SIZE_MAX, 1, false);
  benchmark::RegisterBenchmark("framer/invite/pipelined", bm_pieces, sixteen, SIZE_MAX, 16, false);
  benchmark::RegisterBenchmark("framer/invite/segments", bm_segments);
  benchmark::RegisterBenchmark("framer/invite/bytewise", bm_pieces, sipd::sip::kInvite, 1, 1, false);
  benchmark::RegisterBenchmark("framer/invite/lazy", bm_pieces, sipd::sip::kInvite, SIZE_MAX, 1, true);
  benchmark::RegisterBenchmark("frame_stream/invite", bm_frame_stream);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
