#include "control/daemon/avpops_service.h"
#include "control/daemon/logging.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <optional>
#include <utility>
#include <variant>

#include "control/shm/records.h"

namespace sipd::control {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

bool looks_like_uri(std::string_view v) {
  v = trim(v);
  if (const size_t lt = v.find('<'); lt != std::string_view::npos) v.remove_prefix(lt + 1);
  return istarts_with(v, "sip:") || istarts_with(v, "sips:") || istarts_with(v, "tel:");
}

std::optional<int64_t> to_int(std::string_view text) {
  text = trim(text);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// The name the compiler gives the AVP of a $avp(...) spec: its text inside the parentheses.
std::string spelled(const db::NameFilter& f) {
  if (!f.name_is_int) return f.name;
  return (*f.name_is_int ? "i:" : "s:") + f.name;
}

}  // namespace

db::SourceSpec avpops_source(std::string_view arg) {
  const std::string_view value = trim(arg);
  db::SourceSpec spec;
  const size_t slash = value.rfind('/');
  if (slash != std::string_view::npos) {
    const std::string_view flag = value.substr(slash + 1);
    if (flag == "uri" || flag == "username" || flag == "domain" || flag == "uuid") {
      spec = db::parse_source_spec(value);
      if (!spec.ok()) return spec;
    }
  }
  if (spec.expr.empty()) spec.expr = std::string(value);
  if (spec.part == db::SourcePart::kImplicit)
    spec.part = looks_like_uri(spec.expr) ? db::SourcePart::kUri : db::SourcePart::kUuid;
  return spec;
}

bool avpops_query_names(std::string_view list, std::vector<std::string>& names, std::string& error) {
  names.clear();
  list = trim(list);
  while (!list.empty()) {
    const size_t semi = list.find(';');
    const std::string_view item = trim(list.substr(0, semi));
    list = semi == std::string_view::npos ? std::string_view() : list.substr(semi + 1);
    if (item.empty()) continue;
    if (!item.starts_with("$avp(") || !item.ends_with(")") || item.size() <= 6) {
      error = "'" + std::string(item) + "' is not $avp(name)";
      return false;
    }
    names.emplace_back(item.substr(5, item.size() - 6));
  }
  return true;
}

AvpopsService::AvpopsService(db::Database* db, bool use_domain, std::string table)
    : db_(db), use_domain_(use_domain), table_(table.empty() ? "user_preference" : std::move(table)) {
  if (!db_) return;
  db::Batch schema;
  for (std::string sql : db::preference_schema(table_))
    schema.add([sql = std::move(sql)](db::Session& s) {
      db::OpResult r;
      r.error = s.exec(sql);
      return r;
    });
  const db::BatchResult r = db_->execute(std::move(schema));
  if (!r.ok()) control_log(-1, "avpops: creating table \"%s\": %s", table_.c_str(), r.error.c_str());
}

bool AvpopsService::have_db(const Asked& q, Answer& answer) {
  if (db_) return true;
  ++counters_.no_db;
  if (!told_no_db_) {
    told_no_db_ = true;
    control_log(-1,
                "%s(): avpops needs the database (usrloc is memory-only and there is no db_url): every "
                "avp_db_* call returns -1",
                q.function.c_str());
  }
  answer(Reply{});
  return false;
}

void AvpopsService::fail(const Asked& q, Answer& answer, const std::string& why) {
  ++counters_.failed;
  control_log(-1, "%s(): %s", q.function.c_str(), why.c_str());
  answer(Reply{});
}

bool AvpopsService::submit(const Asked& q, Answer& answer, db::Batch batch,
                           std::function<Reply(db::BatchResult&&)> reply) {
  const std::string function = q.function;
  const db::Status st =
      db_->submit(std::move(batch), [this, function, answer, reply = std::move(reply)](db::BatchResult&& r) {
        if (!r.ok()) {
          ++counters_.failed;
          control_log(-1, "%s(): %s", function.c_str(), r.error.c_str());
          answer(Reply{});
          return;
        }
        Reply out = reply(std::move(r));
        if (out.avps.size() > shm::kMaxAnswerAvps) {
          ++counters_.truncated;
          control_log(1, "%s(): %zu AVPs, one answer carries %zu: the rest are dropped", function.c_str(),
                      out.avps.size(), shm::kMaxAnswerAvps);
          out.avps.resize(shm::kMaxAnswerAvps);
        }
        answer(std::move(out));
      });
  if (!st.ok()) {
    fail(q, answer, st.error);
    return false;
  }
  return true;
}

void AvpopsService::load(const Asked& q, Answer answer) {
  ++counters_.loads;
  if (!have_db(q, answer)) return;
  if (q.args.size() < 2) return fail(q, answer, "needs a source and a name");
  const db::SourceSpec source = avpops_source(q.args[0]);
  if (!source.ok()) return fail(q, answer, source.error);
  db::Result<db::PreferenceKey> key = db::make_preference_key(source, source.expr, use_domain_);
  if (!key.ok()) return fail(q, answer, key.error);
  db::NameFilter filter = db::parse_name_spec(q.args[1]);
  if (!filter.ok()) return fail(q, answer, filter.error);
  if (filter.table.empty()) filter.table = table_;
  const std::string prefix = q.args.size() > 3 ? q.args[3] : std::string();
  // One $avp(name): the values go to that AVP (as the script spells it). All, or all of one name type: each
  // row's attribute names its AVP, also under its 1.x spelling ($avp(i:700), $avp(s:x)); the worker keeps
  // only the names its script uses.
  const bool named = filter.kind == db::NameFilter::Kind::kName;
  const std::string one_name = named ? (prefix.empty() ? spelled(filter) : prefix + filter.name) : "";
  db::Batch batch;
  batch.add(db::UserPreferences::load(std::move(key.value), std::move(filter)));
  submit(q, answer, std::move(batch), [one_name, named, prefix](db::BatchResult&& r) {
    Reply out;
    db::Result<std::vector<db::Preference>> rows = db::UserPreferences::decode(r.ops.at(0));
    if (!rows.ok()) {
      control_log(-1, "avp_db_load(): %s", rows.error.c_str());
      return out;
    }
    for (const db::Preference& p : rows.value) {
      std::variant<int64_t, std::string> value = p.value;
      if (p.value_is_int()) {
        if (const std::optional<int64_t> n = to_int(p.value)) value = *n;
      }
      if (named) {
        out.avps.emplace_back(one_name, value);
      } else if (!prefix.empty()) {
        out.avps.emplace_back(prefix + p.attribute, value);
      } else {
        out.avps.emplace_back(p.attribute, value);
        out.avps.emplace_back((p.name_is_int() ? "i:" : "s:") + p.attribute, value);
      }
    }
    out.result = out.avps.empty() ? -1 : 1;
    return out;
  });
}

void AvpopsService::store(const Asked& q, Answer answer) {
  ++counters_.stores;
  if (!have_db(q, answer)) return;
  if (q.args.size() < 2) return fail(q, answer, "needs a source and a name");
  const db::SourceSpec source = avpops_source(q.args[0]);
  if (!source.ok()) return fail(q, answer, source.error);
  db::Result<db::PreferenceKey> key = db::make_preference_key(source, source.expr, use_domain_);
  if (!key.ok()) return fail(q, answer, key.error);
  const db::NameFilter filter = db::parse_name_spec(q.args[1]);
  if (!filter.ok()) return fail(q, answer, filter.error);
  if (filter.kind != db::NameFilter::Kind::kName)
    return fail(q, answer, "name '" + q.args[1] + "': sipd stores one $avp(name) at a time");
  if (q.avp_values.empty()) {  // the AVP is not set: nothing to store
    answer(Reply{});
    return;
  }
  const std::string table = filter.table.empty() ? table_ : filter.table;
  const int name_type = filter.name_is_int.value_or(false) ? db::kPreferenceNameIsInt : 0;
  db::Batch batch;
  // Oldest value first: a later avp_db_load pushes rows in id order, so the newest value is newest again.
  for (auto it = q.avp_values.rbegin(); it != q.avp_values.rend(); ++it) {
    const bool is_int = std::holds_alternative<int64_t>(*it);
    std::string text = is_int ? std::to_string(std::get<int64_t>(*it)) : std::get<std::string>(*it);
    batch.add(db::UserPreferences::store(key.value, filter.name,
                                         name_type | (is_int ? db::kPreferenceValueIsInt : 0),
                                         std::move(text), table));
  }
  submit(q, answer, std::move(batch), [](db::BatchResult&&) {
    Reply out;
    out.result = 1;
    return out;
  });
}

void AvpopsService::remove(const Asked& q, Answer answer) {
  ++counters_.deletes;
  if (!have_db(q, answer)) return;
  if (q.args.size() < 2) return fail(q, answer, "needs a source and a name");
  const db::SourceSpec source = avpops_source(q.args[0]);
  if (!source.ok()) return fail(q, answer, source.error);
  db::Result<db::PreferenceKey> key = db::make_preference_key(source, source.expr, use_domain_);
  if (!key.ok()) return fail(q, answer, key.error);
  db::NameFilter filter = db::parse_name_spec(q.args[1]);
  if (!filter.ok()) return fail(q, answer, filter.error);
  if (filter.table.empty()) filter.table = table_;
  db::Batch batch;
  batch.add(db::UserPreferences::remove(std::move(key.value), std::move(filter)));
  submit(q, answer, std::move(batch), [](db::BatchResult&&) {
    Reply out;
    out.result = 1;
    return out;
  });
}

void AvpopsService::query(const Asked& q, Answer answer) {
  ++counters_.queries;
  if (!have_db(q, answer)) return;
  if (q.args.empty() || trim(q.args[0]).empty()) return fail(q, answer, "needs a query");
  std::vector<std::string> names;
  std::string error;
  if (q.args.size() > 1 && !avpops_query_names(q.args[1], names, error))
    return fail(q, answer, "destination '" + q.args[1] + "': " + error);
  db::Batch batch;
  batch.add(db::UserPreferences::query(q.args[0]));
  submit(q, answer, std::move(batch), [names = std::move(names)](db::BatchResult&& r) {
    Reply out;
    const db::OpResult& res = r.ops.at(0);
    if (res.columns.empty()) {  // INSERT, UPDATE, DELETE...: no result set
      out.result = 1;
      return out;
    }
    if (res.rows.empty()) {
      out.result = -2;
      return out;
    }
    // One AVP per column ($avp(1), $avp(2)... without a list; columns past the list are not kept), one
    // value per row, pushed row by row: the last row's values are the newest.
    const size_t columns = names.empty() ? res.columns.size() : std::min(names.size(), res.columns.size());
    for (size_t row = 0; row < res.rows.size(); ++row) {
      for (size_t c = 0; c < columns; ++c) {
        const std::string name = names.empty() ? std::to_string(c + 1) : names[c];
        const std::optional<std::string>& cell = res.rows[row][c];
        const db::CellType type =
            row < res.types.size() && c < res.types[row].size() ? res.types[row][c] : db::CellType::kText;
        std::optional<int64_t> n;
        if (type == db::CellType::kInteger && cell) n = to_int(*cell);
        if (n)
          out.avps.emplace_back(name, *n);
        else
          out.avps.emplace_back(name, cell.value_or(std::string()));  // NULL: an empty string
      }
    }
    out.result = 1;
    return out;
  });
}

void AvpopsService::register_with(Questions& questions) {
  questions.handle("avp_db_load", [this](const Asked& q, Answer a) { load(q, std::move(a)); });
  questions.handle("avp_db_store", [this](const Asked& q, Answer a) { store(q, std::move(a)); });
  questions.handle("avp_db_delete", [this](const Asked& q, Answer a) { remove(q, std::move(a)); });
  questions.handle("avp_db_query", [this](const Asked& q, Answer a) { query(q, std::move(a)); });
}

}  // namespace sipd::control
