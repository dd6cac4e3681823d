#include "dataplane/proxy/steering.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/via.h"

namespace sipd::proxy {

uint32_t call_id_hash(std::string_view call_id) {  // FNV-1a, folded to 32 bits
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : call_id) h = (h ^ c) * 0x100000001b3ull;
  return uint32_t(h ^ (h >> 32));
}

uint8_t owner_of(const sip::Message& msg, uint8_t workers) {
  if (workers <= 1) return 0;
  if (msg.is_response()) {
    sip::Via via;
    if (sip::parse_top_via(msg, via) && via.branch.size() > kBranchPrefix.size() &&
        via.branch.starts_with(kOurBranches) && (via.branch[8] == 'l' || via.branch[8] == 't')) {
      const char d = via.branch[kBranchPrefix.size()];
      const int w = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ? d - 'a' + 10 : -1;
      if (w >= 0 && w < workers) return uint8_t(w);
    }
  }
  return uint8_t(call_id_hash(sip::trim(msg.first_value(sip::HeaderId::CallId))) % workers);
}

}  // namespace sipd::proxy
