// usrloc's MI commands on the command table (control/mi/mgmt.h), as OpenSIPS 3's usrloc exports them.
//
// Who calls: sipd-control's main thread (the commands run inside the MI transports' serve()).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/program.h"  // usrloc.h names config::Program without including it
#include "control/daemon/usrloc.h"
#include "control/mi/mgmt.h"

namespace sipd::control {

// ---- usrloc's MI commands (OpenSIPS 3 names and shapes) ----------------------------------------------
//
//   ul_dump [brief]               {"Domains":[{"name":"location","hash_size":N,"AORs":[{"AOR":..,
//                                 "Contacts":[{"Contact","ContactID","Expires","Q","Callid","Cseq",
//                                 "User-agent","Received","Path","State","Flags","Cflags","Socket",
//                                 "Methods","SIP_instance"}]}]}]} (empty text fields are left out, as
//                                 OpenSIPS does; "Expires" is the seconds left, or "permanent"/"expired")
//   ul_show_contact table_name aor   {"AOR":..,"Contacts":[...]}; 404 "AOR not found"
//   ul_rm table_name aor             "OK"; 404 "AOR not found" (OpenSIPS answers OK either way)
//   ul_add table_name aor contact expires q unsused flags cflags methods
//                                    "OK": adds the contact, or replaces the AOR's binding with that exact
//                                    contact text (see LocationService::add_contact). All nine are
//                                    required, named as OpenSIPS 3's usrloc names them (its 6th really is
//                                    "unsused" in the code, "unused" in its documentation; its value is
//                                    read by neither). expires: seconds, 0 permanent; q: "0".."1" with up
//                                    to three decimals (OpenSIPS's q syntax); flags: 1 is memory only;
//                                    cflags: branch flags; methods: OpenSIPS's method bits (INVITE 1,
//                                    CANCEL 2, ACK 4, BYE 8, INFO 16, OPTIONS 32, UPDATE 64, REGISTER 128,
//                                    MESSAGE 256, SUBSCRIBE 512, NOTIFY 1024, PRACK 2048, REFER 4096,
//                                    PUBLISH 8192, other 16384; all bits: every method), stored as sipd's.
//                                    Integers as JSON numbers or decimal strings, q as a string (or the
//                                    number 0 or 1); where OpenSIPS truncates a fraction or wraps a value
//                                    out of range, sipd refuses it. A bad q is 400 "Bad parameter value";
//                                    what the table refuses is 500 "Internal Error", the reason as "data".
//   ul_rm_contact table_name aor contact
//                                    "OK"; 404 "AOR not found", 404 "Contact not found" (the contact
//                                    text as ul_show_contact prints it, byte for byte)
// The only table is "location" (others: 404 "Table not found"). Without use_domain the AOR's "@domain" is
// ignored, with it an AOR without one is 400 "Domain missing in AOR", as OpenSIPS does. ul_add and
// ul_rm_contact answer once the shared table has the change (MI is answered at once): with write-through
// the database write is queued, not yet committed, and a refusal there is logged rather than answered.

// What the commands need from the location service (a seam: tests give fakes).
struct UsrlocCommandHooks {
  std::function<std::vector<ShownBinding>(std::string_view aor)> show;  // "" for every AOR
  std::function<bool(std::string_view aor)> remove;                     // true when it existed
  // ul_add (`now` is the clock below); false with the reason.
  std::function<bool(std::string_view aor, const ManualContact& c, std::string& error)> add;
  // ul_rm_contact; Failed with the reason.
  std::function<ContactRemoval(std::string_view aor, std::string_view contact, std::string& error)>
      remove_contact;
  std::function<int64_t()> now;  // unix seconds
  bool use_domain = false;
  uint32_t hash_size = 0;         // printed as the domain's "hash_size"
  std::string state = "CS_SYNC";  // printed as every contact's "State"
};

void add_usrloc_commands(CommandTable& table, UsrlocCommandHooks hooks);

// The production wiring. `location` must outlive `table`; `hash_size` is the shared table's bucket count.
inline void add_usrloc_commands(CommandTable& table, LocationService& location, uint32_t hash_size,
                                std::function<int64_t()> now) {
  UsrlocCommandHooks hooks;
  hooks.show = [&location](std::string_view aor) { return location.show(aor); };
  hooks.remove = [&location](std::string_view aor) { return location.remove_aor(aor); };
  hooks.add = [&location, now](std::string_view aor, const ManualContact& c, std::string& error) {
    return location.add_contact(aor, c, now(), error);
  };
  hooks.remove_contact = [&location](std::string_view aor, std::string_view contact, std::string& error) {
    return location.remove_contact(aor, contact, error);
  };
  hooks.now = std::move(now);
  hooks.use_domain = location.settings().use_domain;
  hooks.hash_size = hash_size;
  // Memory-only contacts are never written anywhere (OpenSIPS shows them CS_NEW); otherwise they are in
  // the database once answered (write-through) or soon after (write-back).
  hooks.state = location.settings().mode == UsrlocMode::MemoryOnly ? "CS_NEW" : "CS_SYNC";
  add_usrloc_commands(table, std::move(hooks));
}

}  // namespace sipd::control
