// The key usrloc files an address-of-record under: the URI's user part (%-escapes decoded, lower-cased
// unless case-sensitive), and with use_domain "@" and the host (lower-cased, a realm prefix stripped); a tel:
// URI keys by its number alone. The registrar in the control process files bindings under it and the
// worker's lookup() reads them under it, so both build it here.
//
// Who calls: control's registrar and the dataplane's lookup()/registered(). Pure and allocation-free.
#pragma once

#include <cstddef>
#include <string_view>

#include "dataplane/sip/uri.h"

namespace sipd::sip {

struct AorOptions {
  bool use_domain = false;
  bool case_sensitive = true;     // usrloc's default
  std::string_view realm_prefix;  // registrar's realm_prefix, stripped from the host
};

enum class AorError { None, NoUser, TooLong };

// Writes the key of `uri` into out[0, cap) and its length into `len`.
AorError aor_key(const Uri& uri, const AorOptions& options, char* out, size_t cap, size_t& len);

}  // namespace sipd::sip
