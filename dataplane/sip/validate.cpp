#include "dataplane/sip/validate.h"

#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"
#include "dataplane/sip/via.h"

namespace sipd::sip {
namespace {

Defect check_presence(const Message& msg) {
  for (HeaderId id : {HeaderId::Via, HeaderId::From, HeaderId::To, HeaderId::CallId, HeaderId::CSeq})
    if (msg.first(id) == kNoHeader) return Defect::MissingHeader;
  for (HeaderId id : {HeaderId::From, HeaderId::To, HeaderId::CallId, HeaderId::CSeq, HeaderId::MaxForwards})
    if (msg.count(id) > 1) return Defect::DuplicateHeader;
  return Defect::None;
}

Defect check_cseq(const Message& msg) {
  CSeq cseq;
  if (!parse_cseq(msg.first_value(HeaderId::CSeq), cseq)) return Defect::BadCSeq;
  if (msg.is_request() && cseq.method != msg.method_text())
    return msg.method() == Method::Other ? Defect::UnknownMethodMismatch : Defect::CSeqMethodMismatch;
  return Defect::None;
}

// Only the topmost Via is the proxy's business: it identifies the transaction and, in a request, says
// where the response goes. Lower values travel unchanged (RFC 3261 16.3: other components are ignored).
Defect check_top_via(const Message& msg) {
  Via via;
  if (!parse_top_via(msg, via) || !iequals(via.protocol, "SIP") || via.version != "2.0")
    return Defect::BadVia;
  return Defect::None;
}

Defect check_contacts(const Message& msg) {
  ValueIterator it(msg, HeaderId::Contact);
  std::string_view value;
  NameAddr na;
  bool star = false;
  while (it.next(value))
    if (!parse_contact(value, na, star)) return Defect::BadContact;
  return it.bad() ? Defect::BadContact : Defect::None;
}

// Route values steer loose routing (RFC 3261 16.4, 16.6); Record-Route in a request is only copied.
Defect check_routes(const Message& msg) {
  ValueIterator it(msg, HeaderId::Route);
  std::string_view value;
  NameAddr na;
  while (it.next(value))
    if (!parse_name_addr(value, na) || !na.bracketed) return Defect::BadRoute;
  return it.bad() ? Defect::BadRoute : Defect::None;
}

Defect check_request_uri(const Message& msg) {
  const Uri* uri = parsed_request_uri(msg);
  if (!uri) return Defect::BadRequestUri;
  // A well-formed absolute URI of a scheme we do not route is 416, not 400 (RFC 4475 3.3.2, 3.3.3).
  if (uri->scheme == UriScheme::Other) return Defect::UnsupportedUriScheme;
  // RFC 4475 3.1.2.11: escaped headers in a Request-URI are rejected rather than forwarded.
  if (!uri->headers.empty()) return Defect::BadRequestUri;
  return Defect::None;
}

bool supported(const ProxyPolicy& policy, std::string_view tag) {
  for (std::string_view s : policy.proxy_options)
    if (iequals(s, tag)) return true;
  return false;
}

// Proxy-Require option tags this proxy does not support go into the verdict (the 420's Unsupported).
Defect check_proxy_require(const Message& msg, const ProxyPolicy& policy, Verdict& v) {
  for (uint16_t f = msg.first(HeaderId::ProxyRequire); f != kNoHeader; f = msg.next(f)) {
    std::string_view rest = msg.value(f), tok;
    bool bad = false;
    while (next_token_item(rest, tok, bad))
      if (!supported(policy, tok) && v.unsupported_count < Verdict::kMaxUnsupported)
        v.unsupported[v.unsupported_count++] = tok;
    if (bad) return Defect::BadExtensionList;
  }
  return v.unsupported_count > 0 ? Defect::BadExtension : Defect::None;
}

// RFC 3261 16.3 step 1: what the proxy itself relies on must be well formed — the start line and
// Request-URI, the top Via (transaction, response path), From/To tags and Call-ID/CSeq (transaction
// matching), Max-Forwards, Route (loose routing), Proxy-Require — and "any other components,
// well-formed or not, SHOULD be ignored". So From/To/Contact are checked as name-addr values (quotes,
// brackets, parameters: what RFC 4475's quotbal, badaspec and regbadct exercise) but their URIs are left
// to whoever routes on them (the registrar parses Contact and To with parse_uri), and lower Vias,
// Record-Route, Expires, Require and Supported are not examined at all.
Defect check_request(const Message& msg, const ProxyPolicy& policy, Verdict& v) {
  Defect d;
  if ((d = check_presence(msg)) != Defect::None) return d;
  if ((d = check_cseq(msg)) != Defect::None) return d;
  if ((d = check_request_uri(msg)) != Defect::None) return d;
  if ((d = check_top_via(msg)) != Defect::None) return d;
  if (!parsed_from(msg)) return Defect::BadFrom;
  if (!parsed_to(msg)) return Defect::BadTo;
  if (!valid_call_id(msg.first_value(HeaderId::CallId))) return Defect::BadCallId;
  bool present = false;
  const std::string_view mf = msg.first_value(HeaderId::MaxForwards, &present);
  MaxForwards max_forwards;
  if (present && !parse_max_forwards(mf, max_forwards)) return Defect::BadMaxForwards;
  if ((d = check_contacts(msg)) != Defect::None) return d;
  if ((d = check_routes(msg)) != Defect::None) return d;
  return check_proxy_require(msg, policy, v);
}

Defect check_response(const Message& msg) {
  Defect d;
  if ((d = check_presence(msg)) != Defect::None) return d;
  if ((d = check_cseq(msg)) != Defect::None) return d;
  return check_top_via(msg);
}

void set_reply(Defect d, Verdict& v) {
  const DefectInfo info = defect_info(d);
  v.defect = d;
  v.status = info.status;
  v.reason = info.reason;
  v.action = info.status == 0 ? Action::Drop : Action::Reply;
}

}  // namespace

Verdict validate(const Message& msg, Defect parsed, const ProxyPolicy& policy) {
  if (msg.is_response()) {
    // A proxy answers no response: anything wrong with one means it is dropped (RFC 4475 3.1.2.5/3.1.2.19).
    const Defect d = parsed != Defect::None ? parsed : check_response(msg);
    Verdict v;
    if (d != Defect::None) {
      v.action = Action::Drop;
      v.defect = d;
    }
    return v;
  }
  Verdict v;
  const Defect d = parsed != Defect::None ? parsed : check_request(msg, policy, v);
  if (d != Defect::None) set_reply(d, v);
  return v;
}

}  // namespace sipd::sip
