#include "control/db/user_preference.h"

#include <sqlite3.h>

#include <cctype>
#include <charconv>
#include <utility>

namespace sipd::db {

std::vector<std::string> preference_schema(std::string_view table) {
  // The tutorial's user_preference columns with avpops' defaults; the indexes serve the two source kinds.
  const std::string t = quote_identifier(table);
  const std::string base(table);
  return {
      "CREATE TABLE IF NOT EXISTS version (table_name CHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT "
      "NULL, CONSTRAINT version_t_name_idx UNIQUE (table_name))",
      "INSERT OR IGNORE INTO version (table_name, table_version) VALUES (" +
          [&] {
            std::string q = "'";
            for (char c : base) q += c == '\'' ? std::string("''") : std::string(1, c);
            return q + "'";
          }() +
          ", 3)",
      "CREATE TABLE IF NOT EXISTS " + t +
          " (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, uuid CHAR(64) DEFAULT '' NOT NULL, "
          "username CHAR(64) DEFAULT '' NOT NULL, domain CHAR(64) DEFAULT '' NOT NULL, "
          "attribute CHAR(32) DEFAULT '' NOT NULL, type INTEGER DEFAULT 0 NOT NULL, "
          "value CHAR(128) DEFAULT '' NOT NULL, last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT "
          "NULL)",
      "CREATE INDEX IF NOT EXISTS " + quote_identifier(base + "_ua_idx") + " ON " + t + " (uuid, attribute)",
      "CREATE INDEX IF NOT EXISTS " + quote_identifier(base + "_uda_idx") + " ON " + t +
          " (username, domain, attribute)",
  };
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool is_uri_pvar(std::string_view expr) {
  return expr == "$ru" || expr == "$fu" || expr == "$tu" || expr == "$ou";
}

// user and host of a SIP/SIPS/TEL URI (optionally in <...>); no unescaping, as avpops matches raw text.
void split_uri(std::string_view uri, std::string& user, std::string& host) {
  uri = trim(uri);
  if (const size_t lt = uri.find('<'); lt != std::string_view::npos) {
    uri.remove_prefix(lt + 1);
    uri = uri.substr(0, uri.find('>'));
  }
  if (const size_t colon = uri.find(':'); colon != std::string_view::npos) {
    const std::string_view scheme = uri.substr(0, colon);
    if (iequals(scheme, "sip") || iequals(scheme, "sips") || iequals(scheme, "tel")) {
      const bool tel = iequals(scheme, "tel");
      uri.remove_prefix(colon + 1);
      if (tel) {
        user = std::string(uri.substr(0, uri.find_first_of(";?")));
        host.clear();
        return;
      }
    }
  }
  const size_t at = uri.rfind('@', uri.find_first_of("?>"));
  std::string_view hostport = uri;
  user.clear();
  if (at != std::string_view::npos) {
    std::string_view userinfo = uri.substr(0, at);
    user = std::string(userinfo.substr(0, userinfo.find(':')));  // user:password@
    hostport = uri.substr(at + 1);
  }
  if (!hostport.empty() && hostport.front() == '[') {
    host = std::string(hostport.substr(0, hostport.find(']') + 1));
  } else {
    host = std::string(hostport.substr(0, hostport.find_first_of(":;?>")));
  }
}

struct Where {
  std::string sql;                       // " WHERE ..."
  std::vector<const std::string*> args;  // bound in order, ?1..
};

Where key_clause(const PreferenceKey& key) {
  Where w;
  switch (key.by) {
    case PreferenceKey::By::kUuid:
      w.sql = " WHERE uuid = ?";
      w.args = {&key.uuid};
      break;
    case PreferenceKey::By::kUsername:
      w.sql = " WHERE username = ?";
      w.args = {&key.username};
      break;
    case PreferenceKey::By::kDomain:
      w.sql = " WHERE domain = ?";
      w.args = {&key.domain};
      break;
    case PreferenceKey::By::kUri:
      w.sql = key.use_domain ? " WHERE username = ? AND domain = ?" : " WHERE username = ?";
      w.args = {&key.username};
      if (key.use_domain) w.args.push_back(&key.domain);
      break;
  }
  return w;
}

void add_filter(Where& w, const NameFilter& f) {
  switch (f.kind) {
    case NameFilter::Kind::kAll:
      break;
    case NameFilter::Kind::kIntNames:
      w.sql += " AND (type & 2) != 0";
      break;
    case NameFilter::Kind::kStrNames:
      w.sql += " AND (type & 2) = 0";
      break;
    case NameFilter::Kind::kName:
      w.sql += " AND attribute = ?";
      w.args.push_back(&f.name);
      if (f.name_is_int) w.sql += *f.name_is_int ? " AND (type & 2) != 0" : " AND (type & 2) = 0";
      break;
  }
}

std::string table_of(const Session& s, const std::string& table) {
  return quote_identifier(table.empty() ? s.options().preference_table : table);
}

// The first keyword of a statement, past whitespace and comments.
std::string_view first_keyword(std::string_view sql) {
  for (;;) {
    sql = trim(sql);
    if (sql.substr(0, 2) == "--") {
      const size_t nl = sql.find('\n');
      sql = nl == std::string_view::npos ? std::string_view() : sql.substr(nl + 1);
    } else if (sql.substr(0, 2) == "/*") {
      const size_t end = sql.find("*/", 2);
      sql = end == std::string_view::npos ? std::string_view() : sql.substr(end + 2);
    } else {
      break;
    }
  }
  size_t n = 0;
  while (n < sql.size() && std::isalpha(static_cast<unsigned char>(sql[n]))) ++n;
  return sql.substr(0, n);
}

}  // namespace

SourceSpec parse_source_spec(std::string_view spec) {
  SourceSpec out;
  spec = trim(spec);
  // The flag follows the last '/' outside a pseudo-variable's parentheses.
  int depth = 0;
  size_t slash = std::string_view::npos;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '(') ++depth;
    if (spec[i] == ')' && depth > 0) --depth;
    if (spec[i] == '/' && depth == 0) slash = i;
  }
  std::string_view expr = spec;
  if (slash != std::string_view::npos) {
    const std::string_view flag = spec.substr(slash + 1);
    if (flag == "uri")
      out.part = SourcePart::kUri;
    else if (flag == "username")
      out.part = SourcePart::kUsername;
    else if (flag == "domain")
      out.part = SourcePart::kDomain;
    else if (flag == "uuid")
      out.part = SourcePart::kUuid;
    else {
      out.error = "source '" + std::string(spec) + "': unknown flag '" + std::string(flag) +
                  "' (username, domain, uri or uuid)";
      return out;
    }
    expr = spec.substr(0, slash);
  }
  if (expr.empty()) {
    out.error = "source '" + std::string(spec) + "' is empty";
    return out;
  }
  out.expr = std::string(expr);
  return out;
}

Result<PreferenceKey> make_preference_key(const SourceSpec& spec, std::string_view value, bool use_domain) {
  Result<PreferenceKey> out;
  SourcePart part = spec.part;
  if (part == SourcePart::kImplicit) part = is_uri_pvar(spec.expr) ? SourcePart::kUri : SourcePart::kUuid;
  PreferenceKey& key = out.value;
  if (part == SourcePart::kUuid) {
    key.by = PreferenceKey::By::kUuid;
    key.uuid = std::string(value);
    return out;
  }
  split_uri(value, key.username, key.domain);
  switch (part) {
    case SourcePart::kUsername:
      key.by = PreferenceKey::By::kUsername;
      break;
    case SourcePart::kDomain:
      key.by = PreferenceKey::By::kDomain;
      break;
    default:
      key.by = PreferenceKey::By::kUri;
      key.use_domain = use_domain;
      break;
  }
  if (key.domain.empty() && (key.by == PreferenceKey::By::kDomain || key.use_domain))
    out.error = "source '" + spec.expr + "' value '" + std::string(value) + "' has no domain";
  return out;
}

NameFilter parse_name_spec(std::string_view spec) {
  NameFilter out;
  spec = trim(spec);
  std::string_view avp = spec;
  // "/table" or "/$scheme" after the AVP spec (a '/' inside $avp(...) is part of the name).
  const size_t close = spec.find(')');
  const size_t slash = spec.find('/', close == std::string_view::npos ? 0 : close);
  if (slash != std::string_view::npos) {
    const std::string_view table = trim(spec.substr(slash + 1));
    avp = trim(spec.substr(0, slash));
    if (!table.empty() && table.front() == '$') {
      out.error = "name '" + std::string(spec) + "': db_scheme ('" + std::string(table) +
                  "') is not built into this build";
      return out;
    }
    if (table.empty()) {
      out.error = "name '" + std::string(spec) + "': empty table after '/'";
      return out;
    }
    out.table = std::string(table);
  }
  if (avp.size() == 1) {
    switch (avp[0]) {
      case 'a':
      case 'A':
        out.kind = NameFilter::Kind::kAll;
        return out;
      case 'i':
      case 'I':
        out.kind = NameFilter::Kind::kIntNames;
        return out;
      case 's':
      case 'S':
        out.kind = NameFilter::Kind::kStrNames;
        return out;
      default:
        break;
    }
  }
  if (avp.substr(0, 5) == "$avp(" && avp.size() > 6 && avp.back() == ')') {
    std::string_view name = avp.substr(5, avp.size() - 6);
    if (name.substr(0, 2) == "i:") {
      out.name_is_int = true;
      name.remove_prefix(2);
    } else if (name.substr(0, 2) == "s:") {
      out.name_is_int = false;
      name.remove_prefix(2);
    }
    if (!name.empty()) {
      out.kind = NameFilter::Kind::kName;
      out.name = std::string(name);
      return out;
    }
  }
  out.error = "name '" + std::string(spec) + "': expected $avp(name) or one of a, i, s";
  return out;
}

Operation UserPreferences::load(PreferenceKey key, NameFilter filter) {
  return [key = std::move(key), filter = std::move(filter)](Session& s) -> OpResult {
    Where w = key_clause(key);
    add_filter(w, filter);
    std::string error;
    Statement st = s.prepare(
        "SELECT attribute, type, value FROM " + table_of(s, filter.table) + w.sql + " ORDER BY id", &error);
    if (!st.raw()) return OpResult::failed(error);
    for (size_t i = 0; i < w.args.size(); ++i) st.bind(int(i + 1), *w.args[i]);
    OpResult r;
    r.columns = {"attribute", "type", "value"};
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      r.rows.push_back({st.column_text(0), st.column_text(1), st.column_text(2)});
    if (rc != SQLITE_DONE) r.error = st.error();
    return r;
  };
}

Result<std::vector<Preference>> UserPreferences::decode(const OpResult& result) {
  Result<std::vector<Preference>> out;
  if (!result.ok()) {
    out.error = result.error;
    return out;
  }
  for (const Row& row : result.rows) {
    if (row.size() != 3) {
      out.error = "user_preference row has " + std::to_string(row.size()) + " columns, expected 3";
      return out;
    }
    Preference p;
    p.attribute = row[0].value_or("");
    const std::string type = row[1].value_or("0");
    const auto [end, ec] = std::from_chars(type.data(), type.data() + type.size(), p.type);
    if (ec != std::errc() || end != type.data() + type.size()) {
      out.error = "user_preference attribute '" + p.attribute + "' has type '" + type + "'";
      return out;
    }
    p.value = row[2].value_or("");
    out.value.push_back(std::move(p));
  }
  return out;
}

Operation UserPreferences::store(PreferenceKey key, std::string attribute, int type, std::string value,
                                 std::string table) {
  return [key = std::move(key), attribute = std::move(attribute), type, value = std::move(value),
          table = std::move(table)](Session& s) -> OpResult {
    if (type < 0 || type > 3) return OpResult::failed("avp type " + std::to_string(type) + " is not 0..3");
    std::string cols;
    std::vector<const std::string*> args;
    switch (key.by) {
      case PreferenceKey::By::kUuid:
        cols = "uuid";
        args = {&key.uuid};
        break;
      case PreferenceKey::By::kUsername:
        cols = "username";
        args = {&key.username};
        break;
      case PreferenceKey::By::kDomain:
        cols = "domain";
        args = {&key.domain};
        break;
      case PreferenceKey::By::kUri:
        cols = key.use_domain ? "username, domain" : "username";
        args = {&key.username};
        if (key.use_domain) args.push_back(&key.domain);
        break;
    }
    std::string marks;
    for (size_t i = 0; i < args.size() + 3; ++i) marks += i ? ", ?" : "?";
    std::string error;
    Statement st =
        s.prepare("INSERT INTO " + table_of(s, table) + " (" + cols +
                      ", attribute, type, value, last_modified) VALUES (" + marks + ", datetime('now'))",
                  &error);
    if (!st.raw()) return OpResult::failed(error);
    int i = 1;
    for (const std::string* a : args) st.bind(i++, *a);
    st.bind(i++, attribute);
    st.bind(i++, int64_t{type});
    st.bind(i, value);
    OpResult r;
    r.error = st.run();
    if (r.ok()) r.changes = s.changes();
    return r;
  };
}

Operation UserPreferences::remove(PreferenceKey key, NameFilter filter) {
  return [key = std::move(key), filter = std::move(filter)](Session& s) -> OpResult {
    Where w = key_clause(key);
    add_filter(w, filter);
    std::string error;
    Statement st = s.prepare("DELETE FROM " + table_of(s, filter.table) + w.sql, &error);
    if (!st.raw()) return OpResult::failed(error);
    for (size_t i = 0; i < w.args.size(); ++i) st.bind(int(i + 1), *w.args[i]);
    OpResult r;
    r.error = st.run();
    if (r.ok()) r.changes = s.changes();
    return r;
  };
}

Operation UserPreferences::query(std::string sql) {
  return [sql = std::move(sql)](Session& s) -> OpResult {
    const std::string_view keyword = first_keyword(sql);
    for (const char* tx : {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}) {
      if (iequals(keyword, tx))
        return OpResult::failed("avp_db_query: '" + std::string(keyword) +
                                "' is refused: queries run inside the database thread's transaction");
    }
    std::string error;
    std::string_view tail;
    Statement st = s.prepare_once(sql, &error, &tail);
    if (!st.raw()) return OpResult::failed("avp_db_query: " + error);
    // One statement only: what follows may be blanks, semicolons and comments.
    std::string_view rest = tail;
    while (!rest.empty() && (std::isspace(static_cast<unsigned char>(rest.front())) || rest.front() == ';'))
      rest.remove_prefix(1);
    if (!rest.empty()) {
      std::string tail_error;
      Statement more = s.prepare_once(rest, &tail_error, nullptr);
      if (more.raw() || tail_error != "empty statement")
        return OpResult::failed("avp_db_query: one statement per query (found more after the first)");
    }
    OpResult r;
    const int n = st.columns();
    for (int c = 0; c < n; ++c) {
      const char* name = sqlite3_column_name(st.raw(), c);
      r.columns.emplace_back(name ? name : "");
    }
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      Row row(static_cast<size_t>(n));
      std::vector<CellType> types(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        types[size_t(c)] = st.column_type(c);
        row[size_t(c)] = st.column_text(c);
      }
      r.rows.push_back(std::move(row));
      r.types.push_back(std::move(types));
    }
    if (rc != SQLITE_DONE) {
      r.error = "avp_db_query: " + st.error();
      return r;
    }
    if (!sqlite3_stmt_readonly(st.raw())) r.changes = s.changes();
    return r;
  };
}

}  // namespace sipd::db
