#include "control/db/location_store.h"

#include <sqlite3.h>

#include <cmath>
#include <utility>

namespace sipd::db {

std::vector<std::string> location_schema() {
  // OpenSIPS 3.x's usrloc columns and defaults (table version 1013), plus sipd's reg_id at the end. The
  // unique index is sipd's: upsert is keyed by (username, domain, contact); expires serves delete_expired.
  // contact_id is an INTEGER PRIMARY KEY without OpenSIPS's AUTOINCREMENT: SQLite still assigns it, without
  // a write to sqlite_sequence per insert (about 2 us an upsert); only the id of a deleted last row can
  // come back.
  return {
      "CREATE TABLE IF NOT EXISTS version (table_name CHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT "
      "NULL, CONSTRAINT version_t_name_idx UNIQUE (table_name))",
      "INSERT OR IGNORE INTO version (table_name, table_version) VALUES ('location', 1013)",
      "CREATE TABLE IF NOT EXISTS location ("
      "contact_id INTEGER PRIMARY KEY NOT NULL, "
      "username CHAR(64) DEFAULT '' NOT NULL, "
      "domain CHAR(64) DEFAULT NULL, "
      "contact CHAR(255) DEFAULT '' NOT NULL, "
      "received CHAR(255) DEFAULT NULL, "
      "path CHAR(255) DEFAULT NULL, "
      "expires INTEGER NOT NULL, "
      "q FLOAT(10,2) DEFAULT 1.0 NOT NULL, "
      "callid CHAR(255) DEFAULT 'Default-Call-ID' NOT NULL, "
      "cseq INTEGER DEFAULT 13 NOT NULL, "
      "last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL, "
      "flags INTEGER DEFAULT 0 NOT NULL, "
      "cflags CHAR(255) DEFAULT NULL, "
      "user_agent CHAR(255) DEFAULT '' NOT NULL, "
      "socket CHAR(64) DEFAULT NULL, "
      "methods INTEGER DEFAULT NULL, "
      "sip_instance CHAR(255) DEFAULT NULL, "
      "kv_store TEXT(512) DEFAULT NULL, "
      "attr CHAR(255) DEFAULT NULL, "
      "reg_id INTEGER DEFAULT 0 NOT NULL)",
      "CREATE UNIQUE INDEX IF NOT EXISTS location_binding_idx ON location (username, domain, contact)",
      "CREATE INDEX IF NOT EXISTS location_expires_idx ON location (expires)",
  };
}

namespace {

constexpr const char* kUpsert =
    "INSERT INTO location (username, domain, contact, received, path, expires, q, callid, cseq, "
    "last_modified, "
    "flags, cflags, user_agent, socket, methods, sip_instance, kv_store, attr, reg_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) "
    "ON CONFLICT (username, domain, contact) DO UPDATE SET received = ?4, path = ?5, expires = ?6, q = ?7, "
    "callid = ?8, cseq = ?9, last_modified = ?10, flags = ?11, cflags = ?12, user_agent = ?13, socket = ?14, "
    "methods = ?15, sip_instance = ?16, kv_store = ?17, attr = ?18, reg_id = ?19";

// A refresh: the row of (username, domain, contact) rewritten in place. `domain = ?2` (not ifnull) so the
// unique index finds it, exactly the rows kUpsert's ON CONFLICT would update. The columns of
// location_binding_idx are not assigned, so SQLite leaves that index alone.
constexpr const char* kUpdate =
    "UPDATE location SET received = ?4, path = ?5, expires = ?6, q = ?7, callid = ?8, cseq = ?9, "
    "last_modified = ?10, flags = ?11, cflags = ?12, user_agent = ?13, socket = ?14, methods = ?15, "
    "sip_instance = ?16, kv_store = ?17, attr = ?18, reg_id = ?19 "
    "WHERE username = ?1 AND domain = ?2 AND contact = ?3";

// last_modified may hold a unix time (sipd) or OpenSIPS's 'YYYY-MM-DD HH:MM:SS' text; both read as seconds.
constexpr const char* kLoadAll =
    "SELECT username, ifnull(domain, ''), contact, ifnull(received, ''), ifnull(path, ''), ifnull(callid, "
    "''), "
    "ifnull(user_agent, ''), ifnull(socket, ''), ifnull(sip_instance, ''), ifnull(attr, ''), "
    "ifnull(kv_store, ''), cseq, q, expires, "
    "CASE typeof(last_modified) WHEN 'integer' THEN last_modified WHEN 'real' THEN CAST(last_modified AS "
    "INTEGER) "
    "ELSE ifnull(CAST(strftime('%s', last_modified) AS INTEGER), 0) END, "
    "flags, ifnull(cflags, 0), ifnull(methods, 4294967295), reg_id FROM location ORDER BY contact_id";

// OpenSIPS writes an empty optional text column as NULL; sipd does the same so OpenSIPS tools read it alike.
void bind_optional(Statement& st, int index, const std::string& text) {
  if (text.empty())
    st.bind_null(index);
  else
    st.bind(index, text);
}

OpResult finish(Session& s, Statement& st) {
  OpResult r;
  r.error = st.run();
  if (r.ok()) r.changes = s.changes();
  return r;
}

// ?1..?19 as kUpsert and kUpdate number them.
void bind_row(Statement& st, const LocationRow& row) {
  st.bind(1, row.username);
  st.bind(2, row.domain);
  st.bind(3, row.contact);
  bind_optional(st, 4, row.received);
  bind_optional(st, 5, row.path);
  st.bind(6, row.expires);
  st.bind_real(7, row.q < 0 ? -1.0 : row.q / 1000.0);
  st.bind(8, row.callid);
  st.bind(9, int64_t{row.cseq});
  st.bind(10, row.last_modified);
  st.bind(11, int64_t{row.flags});
  st.bind(12, int64_t{row.cflags});
  st.bind(13, row.user_agent);
  bind_optional(st, 14, row.socket);
  st.bind(15, int64_t{row.methods});
  bind_optional(st, 16, row.sip_instance);
  bind_optional(st, 17, row.kv_store);
  bind_optional(st, 18, row.attr);
  st.bind(19, int64_t{row.reg_id});
}

OpResult run_upsert(Session& s, const LocationRow& row) {
  std::string error;
  Statement st = s.prepare(kUpsert, &error);
  if (!st.raw()) return OpResult::failed(error);
  bind_row(st, row);
  return finish(s, st);
}

}  // namespace

Operation LocationStore::upsert(LocationRow row) {
  return [row = std::move(row)](Session& s) -> OpResult { return run_upsert(s, row); };
}

Operation LocationStore::update(LocationRow row) {
  return [row = std::move(row)](Session& s) -> OpResult {
    {
      std::string error;
      Statement st = s.prepare(kUpdate, &error);
      if (!st.raw()) return OpResult::failed(error);
      bind_row(st, row);
      OpResult r = finish(s, st);
      if (!r.ok() || r.changes > 0) return r;
    }
    return run_upsert(s, row);  // not stored after all (removed behind the table's back): inserted
  };
}

Operation LocationStore::remove(std::string username, std::string domain, std::string contact) {
  return [username = std::move(username), domain = std::move(domain),
          contact = std::move(contact)](Session& s) -> OpResult {
    std::string error;
    Statement st = s.prepare(
        "DELETE FROM location WHERE username = ?1 AND ifnull(domain, '') = ?2 AND contact = ?3", &error);
    if (!st.raw()) return OpResult::failed(error);
    st.bind(1, username);
    st.bind(2, domain);
    st.bind(3, contact);
    return finish(s, st);
  };
}

Operation LocationStore::remove_aor(std::string username, std::string domain) {
  return [username = std::move(username), domain = std::move(domain)](Session& s) -> OpResult {
    std::string error;
    Statement st = s.prepare("DELETE FROM location WHERE username = ?1 AND ifnull(domain, '') = ?2", &error);
    if (!st.raw()) return OpResult::failed(error);
    st.bind(1, username);
    st.bind(2, domain);
    return finish(s, st);
  };
}

Operation LocationStore::delete_expired(int64_t now) {
  return [now](Session& s) -> OpResult {
    std::string error;
    Statement st = s.prepare("DELETE FROM location WHERE expires > 0 AND expires <= ?1", &error);
    if (!st.raw()) return OpResult::failed(error);
    st.bind(1, now);
    return finish(s, st);
  };
}

Result<size_t> LocationStore::load_all(Database& db, const std::function<void(const LocationRow&)>& each) {
  size_t count = 0;
  Batch batch;
  batch.add([&each, &count](Session& s) -> OpResult {
    std::string error;
    Statement st = s.prepare(kLoadAll, &error);
    if (!st.raw()) return OpResult::failed(error);
    LocationRow row;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      row.username = st.column_text(0).value_or("");
      row.domain = st.column_text(1).value_or("");
      row.contact = st.column_text(2).value_or("");
      row.received = st.column_text(3).value_or("");
      row.path = st.column_text(4).value_or("");
      row.callid = st.column_text(5).value_or("");
      row.user_agent = st.column_text(6).value_or("");
      row.socket = st.column_text(7).value_or("");
      row.sip_instance = st.column_text(8).value_or("");
      row.attr = st.column_text(9).value_or("");
      row.kv_store = st.column_text(10).value_or("");
      row.cseq = uint32_t(st.column_int(11));
      const double q = st.column_real(12);
      row.q = q < 0 ? -1 : int32_t(std::lround(q * 1000.0));
      row.expires = st.column_int(13);
      row.last_modified = st.column_int(14);
      row.flags = uint32_t(st.column_int(15));
      row.cflags = uint32_t(st.column_int(16));
      row.methods = uint32_t(st.column_int(17));
      row.reg_id = uint32_t(st.column_int(18));
      each(row);
      ++count;
    }
    if (rc != SQLITE_DONE) return OpResult::failed(st.error());
    return OpResult{};
  });
  BatchResult r = db.execute(std::move(batch));
  Result<size_t> out;
  if (!r.ok()) {
    out.error = "loading location: " + r.error;
    return out;
  }
  out.value = count;
  return out;
}

}  // namespace sipd::db
