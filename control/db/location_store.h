// The registrar's write-through copy of the location table in the embedded database, with OpenSIPS 3.x's
// usrloc `location` columns, so bindings survive a restart of the control process or of the appliance. The
// control process's registrar builds operations here (from its own binding structs, converted to LocationRow)
// and submits them in Batches to the Database; they run on the database thread. load_all() is called once at
// control start-up, on the main thread, to rebuild the shared-memory location table.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "control/db/database.h"

namespace sipd::db {

// One binding as stored: a row of `location`. Text fields are stored as given ("" where OpenSIPS has NULL).
struct LocationRow {
  std::string username;
  std::string domain;   // "" without use_domain
  std::string contact;  // the Contact URI
  std::string received;
  std::string path;
  std::string callid;
  std::string user_agent;
  std::string socket;  // "proto:ip:port" the REGISTER arrived on
  std::string sip_instance;
  std::string attr;
  std::string kv_store;  // OpenSIPS 3.x's per-contact key-value JSON ("" = none)
  uint32_t cseq = 0;
  int32_t q = -1;             // thousandths (1000 = q=1.0); -1: no q (stored as -1, OpenSIPS's unset q)
  int64_t expires = 0;        // unix time; 0 = permanent (never expires), as in OpenSIPS
  int64_t last_modified = 0;  // unix time
  uint32_t flags = 0;
  uint32_t cflags = 0;  // branch flags, as a number
  uint32_t methods = 0xFFFFFFFFu;
  uint32_t reg_id = 0;  // RFC 5626 reg-id (a column of sipd's own, appended after OpenSIPS's)
  bool operator==(const LocationRow&) const = default;
};

// The CREATE statements for `location` (IF NOT EXISTS); Database::open runs them.
std::vector<std::string> location_schema();

// Operation builders: each returns an Operation to add to a Batch. The row is copied into the operation.
class LocationStore {
 public:
  // Insert, or update the binding with the same (username, domain, contact).
  static Operation upsert(LocationRow row);
  // The same for a binding the caller believes stored (a refresh): an UPDATE of the row found through the
  // unique index, and the upsert only when there is no such row after all. Cheaper than upsert() when the
  // row is there (SQLite builds no new record and probes no index for a conflict first).
  static Operation update(LocationRow row);
  static Operation remove(std::string username, std::string domain, std::string contact);
  static Operation remove_aor(std::string username, std::string domain);  // every contact of the AOR
  // Bindings with 0 < expires <= now; OpResult::changes says how many went.
  static Operation delete_expired(int64_t now);
  // Every binding, one call of `each` per row, on the database thread while the caller waits (so `each` may
  // fill the caller's structures without locking). Returns the number of rows, or the error. Start-up only.
  static Result<size_t> load_all(Database& db, const std::function<void(const LocationRow&)>& each);
};

}  // namespace sipd::db
