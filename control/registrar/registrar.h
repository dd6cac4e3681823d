// The registrar's decision for one REGISTER (OpenSIPS `registrar` save("location"[, flags[, aor]]), RFC 3261
// section 10.3, RFC 3327 Path): given the parsed request, the address-of-record's current bindings, the
// module settings, the save() flags and the time, it computes the answer (status, reason, reply header
// lines) and the list of changes to make to the location table. Pure: no shared memory, no database, no
// clock, no I/O. Who calls: the control process (the only writer of the location table), on its registrar
// thread, after reading the AOR's bindings (request_aor() says which AOR) — it then applies the changes,
// persists them unless the flags say memory only, and sends the answer unless they say no reply. Any
// thread; nothing is shared between calls. Views in the arguments must outlive the call only; everything
// returned is owned.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/sip/message.h"

namespace sipd::registrar {

// One registered contact of an AOR, as the registrar sees it (control converts to and from the shared
// location table's layout).
struct Binding {
  std::string contact;     // the Contact URI alone (no <>, no header parameters)
  std::string received;    // "sip:IP:PORT[;transport=...]" the UA was seen from, empty when none
  std::string path;        // the request's Path values joined with ",", empty when none or not stored
  std::string user_agent;  // User-Agent header value
  std::string callid;
  uint32_t cseq = 0;
  int q = -1;                 // thousandths (0..1000), -1 when unspecified
  int64_t expires = 0;        // absolute, seconds since the epoch; expired when <= now
  int64_t last_modified = 0;  // seconds since the epoch
  uint32_t flags = 0;         // kFlagMemoryOnly...
  uint32_t cflags = 0;        // branch flags the script set, plus the NAT flag when 'v' found a received
  uint32_t methods = 0;       // bit (1 << sip::Method) per method the UA accepts; kAllMethods when not said
  std::string socket;         // the local socket text ("udp:10.0.0.1:5060") the REGISTER came in on
  std::string sip_instance;   // +sip.instance value without its quotes ("<urn:uuid:...>"), empty when none
  uint32_t reg_id = 0;        // RFC 5626 reg-id, 0 when none

  bool operator==(const Binding&) const = default;
};

inline constexpr uint32_t kAllMethods = 0xFFFFFFFFu;
inline constexpr uint32_t method_bit(sip::Method m) { return 1u << uint8_t(m); }
// Binding::flags bits.
inline constexpr uint32_t kFlagMemoryOnly = 1u << 0;  // saved with 'm': never written to the database

// Module parameters (modparam("registrar", ...) and the usrloc ones the key depends on), with OpenSIPS 3's
// defaults.
struct Settings {
  int default_expires = 3600;
  int min_expires = 60;     // 0: no minimum
  int max_expires = 0;      // 0: no maximum
  int default_q = -1;       // thousandths; -1: unspecified (no q printed)
  int max_contacts = 0;     // 0: no limit
  int retry_after = 0;      // seconds for Retry-After on 5xx answers; 0: no header
  int cseq_delay = 20;      // seconds during which an equal CSeq is a retransmission (answered, not applied)
  bool use_domain = false;  // usrloc: key "user@domain" when true, "user" when false
  bool case_sensitive = true;  // false: the user part of the key is lower-cased (the domain always is)
  // false (RFC 3261 10.3 step 7): a nonzero expiry below the minimum gets 423 with Min-Expires. true: it
  // is raised to the minimum, as OpenSIPS's documentation describes min_expires.
  bool raise_brief_expires = false;
  bool add_date = true;                     // Date header on 200 (RFC 3261 10.3 step 8, SHOULD)
  std::string realm_prefix;                 // stripped from the front of the domain ("sip.")
  std::string received_param = "received";  // ;received="..." on listed contacts; empty: never printed
  std::string sock_hdr_name;                // header read by the 's' flag
  int nat_bflag = -1;                       // branch flag bit set by 'v' when a received was found; -1 none
};

enum class PathMode : uint8_t { None, Off, Lazy, Strict };         // no 'p' flag, p0, p1, p2
enum class MatchMode : uint8_t { Contact, ContactCallId, Param };  // M0 (default), M1, M<param>

// save()'s second argument, parsed. Letters as OpenSIPS 3: m r s f o v, c<N>, e<N>, E<N>, p0 p1 p2, M0 M1
// M<param>; whitespace between flags is ignored.
struct SaveFlags {
  bool memory_only = false;            // m
  bool no_reply = false;               // r
  bool socket_header = false;          // s: socket taken from Settings::sock_hdr_name's header
  bool force = false;                  // f: remove the oldest bindings to make room instead of 503
  bool only_request_contacts = false;  // o: the 200 lists only this request's contacts
  bool path_received = false;          // v: received from the first Path URI's ;received
  int max_contacts = -1;               // c<N>; -1: Settings::max_contacts
  int min_expires = -1;                // e<N>; -1: Settings::min_expires
  int max_expires = -1;                // E<N>; -1: Settings::max_expires
  PathMode path = PathMode::None;
  MatchMode match = MatchMode::Contact;
  std::string match_param;  // M<name>
};

// False with `error` set on a letter that is not a flag or a malformed argument (an unknown letter is an
// error here, where OpenSIPS only logs it: a script must not silently lose a flag).
[[nodiscard]] bool parse_save_flags(std::string_view text, SaveFlags& out, std::string& error);

// Where the REGISTER came from, as the caller knows it.
struct Source {
  std::string_view ip;      // source address text
  uint16_t port = 0;        // source port
  std::string_view proto;   // "udp", "tcp", "tls"...
  std::string_view socket;  // local socket text stored with the bindings
  // The received URI to store (OpenSIPS's received_avp, as fix_nated_register() fills it). When empty
  // and `nat` is true, "sip:ip:port" (";transport=proto" unless UDP) is built from the fields above.
  std::string_view received;
  bool nat = false;
  uint32_t bflags = 0;  // branch flags the script set; stored as Binding::cflags
};

// The usrloc key of an AOR URI (the To URI, or save()'s third argument): "user@domain" when use_domain,
// else "user"; the user %-unescaped and lower-cased unless case_sensitive, the domain lower-cased and
// stripped of realm_prefix. tel: URIs key by their number. False with `error` set when the URI does not
// parse or has no user.
[[nodiscard]] bool aor_key(std::string_view uri, const Settings& settings, std::string& key,
                           std::string& error);

// The key of the AOR `reg` registers: aor_key() of `aor_uri` when not empty, else of the To URI. The
// caller uses it to read the current bindings before decide().
[[nodiscard]] bool request_aor(const sip::Message& reg, std::string_view aor_uri, const Settings& settings,
                               std::string& key, std::string& error);

struct Change {
  enum Kind : uint8_t { Insert, Update, Delete };
  Kind kind;
  Binding binding;  // the binding as it is to be stored (Delete: its last state)
  // Update and Delete: the contact the row is stored under now. An Update's binding.contact may differ:
  // the request's text of an equal URI (RFC 3261 19.1.4), or a new URI matched by M<param>.
  std::string key;
};

struct Decision {
  uint16_t code = 0;                 // 200, 400, 420, 423, 500, 503
  std::string reason;                // reason phrase
  std::vector<std::string> headers;  // reply header lines, each ending in CRLF
  std::vector<Change> changes;       // empty unless code is 200
  int result = -1;                   // what save() returns to the script: 1 ok, -1 error
  bool send_reply = true;            // false with 'r' (the script answers itself)
  bool persist = true;               // false with 'm' (apply in memory only)
  bool retransmission = false;       // some contact was a retransmission (equal CSeq), not re-applied
  std::string aor;                   // the key, as request_aor() makes it
};

// RFC 3261 10.3 steps 5 to 8 for `reg` (a parsed REGISTER). `current` holds the AOR's bindings as stored
// (expired ones may be there; they are neither listed nor counted). `now` is seconds since the epoch.
// `aor_uri` is save()'s third argument, empty for the To URI. Never throws on bad input: every defect of
// the request is an answer.
Decision decide(const sip::Message& reg, std::span<const Binding> current, const Settings& settings,
                const SaveFlags& flags, int64_t now, const Source& source, std::string_view aor_uri = {});
// The same for a caller that has already made the AOR's key with request_aor() from these arguments (it
// read `current` by it): the key is taken as Decision::aor instead of being made again.
Decision decide(const sip::Message& reg, std::span<const Binding> current, const Settings& settings,
                const SaveFlags& flags, int64_t now, const Source& source, std::string_view aor_uri,
                const std::string& aor_key);

// "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n" (RFC 3261 20.17) for `t` seconds since the epoch.
std::string date_header(int64_t t);

// A q value in thousandths as OpenSIPS prints it: 1000 -> "1", 500 -> "0.5", 25 -> "0.025", 0 -> "0".
std::string format_q(int q);

}  // namespace sipd::registrar
