#include "dataplane/proxy/steering.h"

#include <emmintrin.h>

#include "dataplane/sip/chars.h"
#include "dataplane/sip/via.h"

namespace sipd::proxy {

uint32_t call_id_hash(std::string_view call_id) {  // FNV-1a, folded to 32 bits
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : call_id) h = (h ^ c) * 0x100000001b3ull;
  return uint32_t(h ^ (h >> 32));
}

namespace {
// The worker digit of a branch sipd wrote ("z9hG4bKsl<w>..." or "z9hG4bKst<w>..."), or -1.
int branch_worker(std::string_view branch, uint8_t workers) {
  if (branch.size() <= kBranchPrefix.size() || !branch.starts_with(kOurBranches) ||
      (branch[8] != 'l' && branch[8] != 't'))
    return -1;
  const char d = branch[kBranchPrefix.size()];
  const int w = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ? d - 'a' + 10 : -1;
  return w < workers ? w : -1;
}

// The first of the bytes `Cs` at or after `from`, or npos: sixteen bytes at a time with SSE2 (which every
// x86-64 has), one compare per byte sought; on lines this short memchr's set-up costs more than the search
// (BM_SteerFromBytes).
template <char... Cs>
size_t find_first(std::string_view m, size_t from) {
  size_t i = from;
  for (; i + 16 <= m.size(); i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(m.data() + i));
    const __m128i hit = (_mm_cmpeq_epi8(x, _mm_set1_epi8(Cs)) | ...);
    if (const int bits = _mm_movemask_epi8(hit)) return i + size_t(__builtin_ctz(unsigned(bits)));
  }
  for (; i < m.size(); ++i)
    if (((m[i] == Cs) || ...)) return i;
  return std::string_view::npos;
}

// The branch parameter of the first via-parm of a Via value with no quotes and no folding: 0 when it has
// none (or not one the bytes show plainly: then -1), else 1 with `branch` set.
int top_branch(std::string_view value, std::string_view& branch) {
  // The first via-parm ends at the first comma, unless a quote or a '<' comes before it.
  const size_t end = find_first<',', '"', '<'>(value, 0);
  if (end != std::string_view::npos && value[end] != ',') return -1;  // a comma may hide in them
  value = value.substr(0, end);
  size_t semi = value.find(';');
  int found = 0;
  while (semi != std::string_view::npos) {
    const size_t next = value.find(';', semi + 1);
    const std::string_view param =
        sip::trim(value.substr(semi + 1, next == value.npos ? value.npos : next - semi - 1));
    const size_t eq = param.find('=');
    if (sip::iequals(sip::trim(param.substr(0, eq)), "branch")) {
      if (found || eq == std::string_view::npos) return -1;  // twice, or with no value: let the parser say
      branch = sip::trim(param.substr(eq + 1));
      found = 1;
    }
    semi = next;
  }
  return found;
}

// Whether `line` is a header named `name` (in either case): the name, optional SP or HTAB, then the colon,
// as the parser reads a name (up to the line's first colon, trailing whitespace trimmed); `value` is what
// follows the colon.
bool named(std::string_view line, std::string_view name, std::string_view& value) {
  if (line.size() <= name.size() || !sip::iequals(line.substr(0, name.size()), name)) return false;
  size_t i = name.size();
  while (i < line.size() && sip::is_wsp(line[i])) ++i;
  if (i == line.size() || line[i] != ':') return false;
  value = line.substr(i + 1);
  return true;
}
}  // namespace

int owner_from_bytes(std::string_view m, uint8_t workers) {
  if (workers <= 1) return 0;
  if (m.empty() || m[0] == '\r' || m[0] == '\n') return -1;  // the parser skips leading empty lines; not here
  const bool response = m.size() >= 4 && sip::iequals(m.substr(0, 4), "SIP/");
  std::string_view call_id, via;
  bool have_call = false, have_via = !response;  // a request's owner is its Call-ID's alone
  size_t lf = find_first<'\n'>(m, 0);
  while (lf != std::string_view::npos && !(have_call && have_via)) {
    const size_t begin = lf + 1;
    lf = find_first<'\n'>(m, begin);
    if (lf == std::string_view::npos) return -1;
    const std::string_view line = m.substr(begin, lf - begin);
    if (line.empty() || line == "\r") break;  // the end of the headers
    // Only Call-ID (i) and Via (v) are looked at: a line that cannot be either is passed by its first byte.
    const char first = char(line[0] | 0x20);
    std::string_view value;
    bool is_call = false, is_via = false;
    if (!have_call && (first == 'c' || first == 'i'))
      is_call = named(line, "Call-ID", value) || named(line, "i", value);
    else if (!have_via && first == 'v')
      is_via = named(line, "Via", value) || named(line, "v", value);
    if (!is_call && !is_via) continue;  // a folded line goes on a header not looked at
    if (lf + 1 < m.size() && sip::is_wsp(m[lf + 1])) return -1;  // folded: the parser joins the lines
    // A Via line with nothing in it adds no via-parm to the list: the top one is in a later line.
    if (is_via && sip::trim(value).empty()) continue;
    (is_call ? call_id : via) = value;
    (is_call ? have_call : have_via) = true;
  }
  if (!have_call || !have_via) return -1;
  if (response) {
    std::string_view branch;
    const int found = top_branch(via, branch);
    if (found < 0) return -1;
    if (found) {
      if (const int w = branch_worker(branch, workers); w >= 0) return w;
    }
  }
  return int(call_id_hash(sip::trim(call_id)) % workers);
}

uint8_t owner_of(const sip::Message& msg, uint8_t workers) {
  if (workers <= 1) return 0;
  if (msg.is_response()) {
    sip::Via via;
    if (sip::parse_top_via(msg, via)) {
      if (const int w = branch_worker(via.branch, workers); w >= 0) return uint8_t(w);
    }
  }
  return uint8_t(call_id_hash(sip::trim(msg.first_value(sip::HeaderId::CallId))) % workers);
}

}  // namespace sipd::proxy
