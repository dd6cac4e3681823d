// avpops' database side: the `user_preference` table (the tutorial's columns: id, uuid, username, domain,
// attribute, type, value, last_modified) and the operations behind avp_db_load, avp_db_store,
// avp_db_delete and avp_db_query. The control process parses the script's arguments (helpers below), builds
// these operations when a worker's suspended script asks, submits them in a Batch to the Database (they run
// on the database thread), and hands the completion's rows back to the worker. Script-side glue (reading the
// source pseudo-variable, turning rows into AVPs, prefixes, return codes) is control's.
//
// What is implemented, after OpenSIPS 3.x's avpops documentation:
// - type column: bit 0 set = the value is an integer (else a string); bit 1 set = the attribute name is an
//   integer (1.x's $avp(i:N)), else a string. 0 = str name/str value, 1 = str/int, 2 = int/str, 3 = int/int.
// - source = (pvar | string) ['/' ('username' | 'domain' | 'uri' | 'uuid')]. Without a flag, $ru $fu $tu $ou
//   mean 'uri' and anything else 'uuid'. 'uri' matches username, and domain too when use_domain is set;
//   'username' matches the URI's user only; 'domain' its host only; 'uuid' the value itself against `uuid`.
// - name = ('a'|'A' | 'i'|'I' | 's'|'S' | $avp(name)) ['/' table]: all attributes, those with integer
//   names, those with string names, or one attribute ($avp(i:N) / $avp(s:x) also require that name type);
//   '/table' uses another table with the same columns. A '$scheme' (db_scheme) is refused: not built.
// - avp_db_load returns the matching rows (attribute, type, value) in id order; avp_db_store inserts one row
//   per value (earlier rows are kept, as avpops does; last_modified = now); avp_db_delete deletes the rows
//   the source and name match; avp_db_query runs any one statement (SELECT, INSERT, UPDATE, DELETE...)
//   and returns its rows as text with each cell's type (for the AVP's value type) and the column names;
//   transaction statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, END) are refused because the
//   statement runs inside the database thread's group transaction. No row limit is applied.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/db/database.h"

namespace sipd::db {

constexpr int kPreferenceValueIsInt = 1;  // type bit 0
constexpr int kPreferenceNameIsInt = 2;   // type bit 1

// The CREATE statements for the preference table `table` (IF NOT EXISTS); Database::open runs them.
std::vector<std::string> preference_schema(std::string_view table);

// The source's '/flag'; kImplicit: decided by the pseudo-variable.
enum class SourcePart { kImplicit, kUri, kUsername, kDomain, kUuid };

struct SourceSpec {
  std::string expr;  // "$fu", "$avp(uuid)", or a literal string
  SourcePart part = SourcePart::kImplicit;
  std::string error;
  bool ok() const { return error.empty(); }
};
SourceSpec parse_source_spec(std::string_view spec);  // "$ru/domain" -> {"$ru", kDomain}

// Which rows of the table a source names, from the source's value at run time.
struct PreferenceKey {
  enum class By { kUri, kUsername, kDomain, kUuid };
  By by = By::kUuid;
  std::string uuid;
  std::string username;
  std::string domain;
  bool use_domain = false;  // By::kUri only: also match the domain (avpops' use_domain)
};
// `value` is the source's value: a URI ("sip:alice@example.com;transport=tcp") for uri/username/domain, any
// string for uuid. An URI without a host is an error for 'domain' and 'uri' with use_domain.
Result<PreferenceKey> make_preference_key(const SourceSpec& spec, std::string_view value, bool use_domain);

struct NameFilter {
  enum class Kind { kAll, kIntNames, kStrNames, kName };
  Kind kind = Kind::kAll;
  std::string name;                 // kName
  std::optional<bool> name_is_int;  // kName from $avp(i:N) / $avp(s:x): the name type must match too
  std::string table;                // "" = Options::preference_table
  std::string error;
  bool ok() const { return error.empty(); }
};
NameFilter parse_name_spec(std::string_view spec);  // "$avp(678)/fwd_table", "i", "A"

struct Preference {
  std::string attribute;
  int type = 0;
  std::string value;
  bool value_is_int() const { return (type & kPreferenceValueIsInt) != 0; }
  bool name_is_int() const { return (type & kPreferenceNameIsInt) != 0; }
};

class UserPreferences {
 public:
  // avp_db_load: rows (attribute, type, value); decode() turns the OpResult into Preferences.
  static Operation load(PreferenceKey key, NameFilter filter);
  static Result<std::vector<Preference>> decode(const OpResult& result);
  // avp_db_store: one row; `type` 0..3 as above. `table` "" = Options::preference_table.
  static Operation store(PreferenceKey key, std::string attribute, int type, std::string value,
                         std::string table = "");
  // avp_db_delete; OpResult::changes is the number of rows deleted.
  static Operation remove(PreferenceKey key, NameFilter filter);
  // avp_db_query: one statement of any kind; rows, cell types and column names in the OpResult.
  static Operation query(std::string sql);
};

}  // namespace sipd::db
