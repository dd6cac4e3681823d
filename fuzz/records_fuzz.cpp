// libFuzzer target for the ring records as a worker reads them (and control, for questions): any bytes
// another process left in a slab buffer. A record either decodes whole, with every view inside the input,
// or is refused; one that decodes encodes back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "control/shm/records.h"

using namespace sipd;

namespace {

bool inside(std::string_view v, std::string_view in) {
  return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size());
}

void fail(const char* what) {
  std::fprintf(stderr, "records_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  static char again[70000];
  shm::AnswerRecord a;
  if (shm::decode(in, a)) {
    if (!inside(a.reply_reason, in)) fail("answer reason outside the record");
    for (uint8_t i = 0; i < a.header_count; ++i)
      if (!inside(a.headers[i], in)) fail("answer header outside the record");
    for (uint8_t i = 0; i < a.avp_count; ++i)
      if (!inside(a.avps[i].name, in) || !inside(a.avps[i].s, in)) fail("answer AVP outside the record");
    const size_t n = shm::encode(a, again, sizeof again);
    if (n != size || std::memcmp(again, data, size) != 0) fail("an answer does not encode back the same");
  }
  shm::QuestionRecord q;
  if (shm::decode(in, q)) {
    if (!inside(q.function, in) || !inside(q.request, in)) fail("question text outside the record");
    for (uint8_t i = 0; i < q.argc; ++i)
      if (!inside(q.args[i], in)) fail("question argument outside the record");
    for (uint8_t i = 0; i < q.value_count; ++i)
      if (!inside(q.values[i].name, in) || !inside(q.values[i].s, in))
        fail("question value outside the record");
    const size_t n = shm::encode(q, again, sizeof again);
    if (n != size || std::memcmp(again, data, size) != 0) fail("a question does not encode back the same");
  }
  shm::UacRequestRecord u;
  if (shm::decode(in, u)) {
    if (!inside(u.request, in) || u.branch_at > u.request.size()) fail("a request outside the record");
    const size_t n = shm::encode(u, again, sizeof again);
    if (n != size || std::memcmp(again, data, size) != 0) fail("a UAC request does not encode back the same");
  }
  shm::UacResultRecord r;
  if (shm::decode(in, r)) {
    if (!inside(r.reason, in) || !inside(r.response, in)) fail("a result outside the record");
    const size_t n = shm::encode(r, again, sizeof again);
    if (n != size || std::memcmp(again, data, size) != 0) fail("a UAC result does not encode back the same");
  }
  shm::StreamInRecord si;
  if (shm::decode(in, si)) {
    if (!inside(si.message, in) || si.connection == 0) fail("a stream message outside the record");
    const size_t n = shm::encode(si, again, sizeof again);
    if (n != size || std::memcmp(again, data, size) != 0) fail("a stream-in does not encode back the same");
  }
  shm::StreamOutRecord so;
  if (shm::decode(in, so)) {
    if (!inside(so.message, in)) fail("a stream message outside the record");
    const size_t n = shm::encode(so, again, sizeof again);
    if (n != size || std::memcmp(again, data, size) != 0) fail("a stream-out does not encode back the same");
  }
  return 0;
}
