// OpenSIPS's `db_url` spelling for the embedded database. The control process calls parse_db_url() on the
// `db_url` module parameters of a loaded script (usrloc, avpops, auth_db...) and on the appliance settings'
// database path, on its main thread, before opening the Database. SQLite is the only engine built in:
// another scheme (mysql://, postgres://...) is refused with a message that says so.
//
// Accepted, with OpenSIPS's meaning (db_sqlite hands SQLite what follows "sqlite:/", so the slashes count):
//   sqlite:///var/lib/sipd/sipd.db   -> /var/lib/sipd/sipd.db  (three slashes: an absolute path)
//   sqlite://var/lib/sipd/sipd.db    -> /var/lib/sipd/sipd.db  (two slashes: OpenSIPS also opens it from the
//                                       root, so the same configuration opens the same file here)
// Refused: no scheme, a scheme other than sqlite, an empty path, a path ending in '/', "sqlite:/x".
#pragma once

#include <string>
#include <string_view>

namespace sipd::db {

struct DbUrl {
  std::string path;   // the file SQLite opens
  std::string error;  // empty on success
  bool ok() const { return error.empty(); }
};

DbUrl parse_db_url(std::string_view url);

}  // namespace sipd::db
