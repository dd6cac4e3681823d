// registrar's lookup() and registered() on the worker: reads of the location table in the shared segment
// (control is its only writer), never a suspension. The AOR key is the one the registrar files bindings
// under (dataplane/sip/aor.h), built from the same modparams.
#include <algorithm>

#include "dataplane/proxy/proxy.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/name_addr.h"

namespace sipd::proxy {

bool Proxy::location_ready() {
  if (location_ready_) return true;
  // Control has not formatted the table yet: look again at most once a second (attach() writes its reason
  // into a string, which a lookup per message must not pay for).
  if (!location_base_ || now_ms_ < location_retry_ms_) return false;
  location_retry_ms_ = now_ms_ + 1000;
  std::string error;
  location_ready_ = location_.attach(location_base_, location_bytes_, error);
  return location_ready_;
}

// The AOR: the function's argument `aor_arg` when given (a SIP URI), else the R-URI as the script has it now.
bool Proxy::location_key(engine::Call& c, size_t aor_arg, std::string_view& key) {
  std::string_view text;
  if (c.args.size() > aor_arg && !c.args[aor_arg].is_null()) {
    text = engine::to_text(c.st, c.args[aor_arg]);
  } else {
    text = c.st.new_ruri.empty() ? run_->msg->request_uri() : c.st.new_ruri;
  }
  sip::Uri uri;
  if (sip::parse_uri(sip::trim(text), uri) != sip::UriError::None) return false;
  size_t len = 0;
  if (sip::aor_key(uri, version().aor_options, aor_buf_.data(), aor_buf_.size(), len) != sip::AorError::None)
    return false;
  key = std::string_view(aor_buf_.data(), len);
  return true;
}

// lookup(domain[, flags[, aor]]): the best binding becomes the R-URI (its received address, or the first
// hop of its Path, the destination URI; its Path the Route set), the others branches in q order unless
// `b` or append_branches=0. 1 found; -1 none; -2 found but none accepts the method (`m`, method_filtering);
// -3 the table cannot be read now.
int64_t Proxy::lookup(engine::Call& c) {
  const std::string_view flags =
      c.args.size() > 1 && !c.args[1].is_null() ? engine::to_text(c.st, c.args[1]) : "";
  const bool branches = version().append_branches && flags.find('b') == std::string_view::npos;
  const bool filter = version().method_filtering || flags.find('m') != std::string_view::npos;
  std::string_view key;
  if (!location_key(c, 2, key)) return -1;
  if (!location_ready()) return -1;  // control has not made the table yet: nothing is registered
  const shm::LookupResult found = location_.lookup(key, unix_s_, bindings_);
  if (found.status == shm::LookupStatus::Busy) return -3;
  if (found.status != shm::LookupStatus::Found || found.count == 0) return -1;
  const uint32_t bit = 1u << uint8_t(run_->msg->method());
  const engine::Context ctx = context(*run_);
  size_t used = 0;
  run_->extra_count = 0;
  for (size_t i = 0; i < found.count; ++i) {
    const shm::BindingView& b = bindings_[i];
    if (filter && !(b.methods & bit)) continue;
    const std::string_view uri = engine::arena_copy(c.st, b.contact());
    if (c.st.error) return -3;
    if (used++ == 0) {
      vm_.store_pv(ctx, c.st, config::PvId::RUri, engine::Value::string(uri));
      // Where to send it: through its Path (RFC 3327: the Path becomes the Route set), else to where the
      // REGISTER came from when the registrar recorded that (NAT), else the contact itself.
      std::string_view du = b.received();
      if (!b.path().empty() && run_->edits) {
        if (!run_->edits->add_header_first("Route", engine::arena_copy(c.st, b.path()))) return -3;
        sip::NameAddr first;
        std::string_view value = b.path().substr(0, b.path().find(','));
        if (sip::parse_name_addr(sip::trim(value), first)) du = first.uri;
      }
      if (!du.empty())
        vm_.store_pv(ctx, c.st, config::PvId::DstUri, engine::Value::string(engine::arena_copy(c.st, du)));
      if (!branches) break;
    } else if (run_->extra_count < run_->extra.size() - 1) {
      run_->extra[run_->extra_count++] = uri;
    }
  }
  return used ? 1 : -2;
}

// registered(domain[, aor]) / is_registered(): whether the AOR has a live binding.
int64_t Proxy::registered(engine::Call& c) {
  std::string_view key;
  if (!location_key(c, 1, key) || !location_ready()) return -1;
  const shm::LookupResult r = location_.registered(key, unix_s_);
  return r.status == shm::LookupStatus::Found && r.count ? 1 : -1;
}

}  // namespace sipd::proxy
