#include "control/daemon/usrloc.h"
#include "control/daemon/logging.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "control/db/db_url.h"
#include "control/db/location_store.h"

namespace sipd::control {

namespace {

shm::BindingData to_table(const registrar::Binding& b) {
  shm::BindingData d;
  d.contact = b.contact;
  d.received = b.received;
  d.path = b.path;
  d.user_agent = b.user_agent;
  d.callid = b.callid;
  d.socket = b.socket;
  d.sip_instance = b.sip_instance;
  d.cseq = b.cseq;
  d.q = b.q;
  d.expires = b.expires;
  d.last_modified = b.last_modified;
  d.flags = b.flags;
  d.cflags = b.cflags;
  d.methods = b.methods;
  d.reg_id = b.reg_id;
  return d;
}

void from_view(const shm::BindingView& v, registrar::Binding& b) {
  b.contact.assign(v.contact());
  b.received.assign(v.received());
  b.path.assign(v.path());
  b.user_agent.assign(v.user_agent());
  b.callid.assign(v.callid());
  b.socket.assign(v.socket());
  b.sip_instance.assign(v.sip_instance());
  b.cseq = v.cseq;
  b.q = v.q;
  b.expires = v.expires;
  b.last_modified = v.last_modified;
  b.flags = v.flags;
  b.cflags = v.cflags;
  b.methods = v.methods;
  b.reg_id = v.reg_id;
}

// The database keys a binding by user and domain: the AOR key split where usrloc would split it.
void split_aor(std::string_view aor, bool use_domain, std::string& user, std::string& domain) {
  const size_t at = use_domain ? aor.rfind('@') : std::string_view::npos;
  user = std::string(aor.substr(0, at));
  domain = at == std::string_view::npos ? std::string() : std::string(aor.substr(at + 1));
}

std::string join_aor(const db::LocationRow& r) {
  return r.domain.empty() ? r.username : r.username + "@" + r.domain;
}

// The binding's text moves into the row (the caller is done with it).
db::LocationRow to_row(const std::string& user, const std::string& domain, registrar::Binding&& b) {
  db::LocationRow r;
  r.username = user;
  r.domain = domain;
  r.contact = std::move(b.contact);
  r.received = std::move(b.received);
  r.path = std::move(b.path);
  r.callid = std::move(b.callid);
  r.user_agent = std::move(b.user_agent);
  r.socket = std::move(b.socket);
  r.sip_instance = std::move(b.sip_instance);
  r.cseq = b.cseq;
  r.q = b.q;
  r.expires = b.expires;
  r.last_modified = b.last_modified;
  r.flags = b.flags;
  r.cflags = b.cflags;
  r.methods = b.methods;
  r.reg_id = b.reg_id;
  return r;
}

}  // namespace

bool usrloc_settings(const config::Program& program, const std::string& default_db, UsrlocSettings& out,
                     std::string& error) {
  UsrlocSettings s;
  s.use_domain = program.modparam_int("usrloc", "use_domain") != 0;
  // 3.x's preset wins over 2.x's db_mode; with neither, sipd's own default (write-through, README).
  if (program.modparam_set("usrloc", "working_mode_preset")) {
    const std::string_view preset = program.modparam("usrloc", "working_mode_preset");
    if (preset == "single-instance-no-db") {
      s.mode = UsrlocMode::MemoryOnly;
    } else if (preset == "single-instance-sql-write-through") {
      s.mode = UsrlocMode::WriteThrough;
    } else if (preset == "single-instance-sql-write-back") {
      s.mode = UsrlocMode::WriteBack;
    } else if (preset.find("cluster") != std::string_view::npos ||
               preset.find("federation") != std::string_view::npos || preset == "sql-only") {
      error = "usrloc working_mode_preset \"" + std::string(preset) +
              "\" needs a cluster (or a shared SQL database), which this build does not have: use "
              "single-instance-no-db, single-instance-sql-write-through or single-instance-sql-write-back";
      return false;
    } else {
      error = "usrloc working_mode_preset \"" + std::string(preset) + "\" is not one of OpenSIPS's presets";
      return false;
    }
  } else if (program.modparam_set("usrloc", "db_mode")) {
    switch (program.modparam_int("usrloc", "db_mode")) {
      case 0:
        s.mode = UsrlocMode::MemoryOnly;
        break;
      case 1:
        s.mode = UsrlocMode::WriteThrough;
        break;
      case 2:
        s.mode = UsrlocMode::WriteBack;
        break;
      default:
        error = "usrloc db_mode " + std::to_string(program.modparam_int("usrloc", "db_mode")) +
                " (DB-only) keeps no table in memory, which sipd's workers read: use 0, 1 or 2";
        return false;
    }
  }
  if (s.mode != UsrlocMode::MemoryOnly) {
    const std::string_view url = program.modparam("usrloc", "db_url");
    if (url.empty()) {
      s.db_path = default_db;
    } else {
      const db::DbUrl u = db::parse_db_url(url);
      if (!u.ok()) {
        error = "usrloc db_url: " + u.error;
        return false;
      }
      s.db_path = u.path;
    }
  }
  out = s;
  return true;
}

LocationService::LocationService(shm::LocationWriter& writer, db::Database* db,
                                 const UsrlocSettings& settings)
    : writer_(writer), db_(settings.mode == UsrlocMode::MemoryOnly ? nullptr : db), settings_(settings) {}

int64_t LocationService::load_from_database(std::string& error) {
  if (!db_) return 0;
  int64_t loaded = 0;
  std::string refused;
  const db::Result<size_t> r = db::LocationStore::load_all(*db_, [&](const db::LocationRow& row) {
    registrar::Binding b;
    b.contact = row.contact;
    b.received = row.received;
    b.path = row.path;
    b.user_agent = row.user_agent;
    b.callid = row.callid;
    b.socket = row.socket;
    b.sip_instance = row.sip_instance;
    b.cseq = row.cseq;
    b.q = row.q;
    b.expires = row.expires;
    b.last_modified = row.last_modified;
    b.flags = row.flags;
    b.cflags = row.cflags;
    b.methods = row.methods;
    b.reg_id = row.reg_id;
    const shm::WriteResult w = writer_.upsert(join_aor(row), to_table(b));
    if (w == shm::WriteResult::Ok)
      ++loaded;
    else if (refused.empty())
      refused = join_aor(row) + ": " + shm::to_string(w);
  });
  if (!r.ok()) {
    error = r.error;
    return -1;
  }
  if (!refused.empty()) error = "some bindings did not fit the table (first: " + refused + ")";
  return loaded;
}

std::vector<registrar::Binding> LocationService::bindings(std::string_view aor) const {
  std::vector<registrar::Binding> out;
  bindings(aor, out);
  return out;
}

void LocationService::bindings(std::string_view aor, std::vector<registrar::Binding>& out) const {
  size_t n = 0;
  (void)writer_.for_each_binding(aor, [&](const shm::BindingView& v) {
    if (n == out.size()) out.emplace_back();
    from_view(v, out[n++]);
  });
  out.resize(n);
}

bool LocationService::apply(std::string_view aor, std::vector<registrar::Change> changes, bool persist,
                            std::function<void(const std::string& error)> durable, std::string& error) {
  db::Batch batch;
  const bool to_db = persist && db_;
  std::string user, domain;
  if (to_db) split_aor(aor, settings_.use_domain, user, domain);
  for (registrar::Change& c : changes) {
    // An update may store the contact under new text (an equal URI written otherwise): the old row goes.
    const bool renamed = !c.key.empty() && c.key != c.binding.contact;
    const std::string& old = renamed ? c.key : c.binding.contact;
    shm::WriteResult w = shm::WriteResult::Ok;
    if (c.kind == registrar::Change::Delete) {
      w = writer_.remove(aor, old);
      if (w == shm::WriteResult::NotFound) w = shm::WriteResult::Ok;  // already gone (reaped)
    } else {
      if (c.kind == registrar::Change::Update && renamed) (void)writer_.remove(aor, old);
      w = writer_.upsert(aor, to_table(c.binding));
    }
    if (w != shm::WriteResult::Ok) {
      error = std::string("location table: ") + shm::to_string(w);
      return false;
    }
    if (!to_db || (c.binding.flags & registrar::kFlagMemoryOnly)) continue;
    if (c.kind == registrar::Change::Delete || renamed)
      batch.add(db::LocationStore::remove(user, domain, old));
    if (c.kind == registrar::Change::Delete) continue;
    // A refresh of a row stored under the same contact is an UPDATE of that row (an insert if it is not
    // there after all); a new binding, or one stored under new text, an upsert.
    const bool refresh = c.kind == registrar::Change::Update && !renamed;
    db::LocationRow row = to_row(user, domain, std::move(c.binding));
    batch.add(refresh ? db::LocationStore::update(std::move(row))
                      : db::LocationStore::upsert(std::move(row)));
  }
  if (batch.empty()) {
    durable("");
    return true;
  }
  if (settings_.mode == UsrlocMode::WriteBack) {
    durable("");  // answered now; the database catches up on its own thread
    const db::Status s = db_->submit(std::move(batch), [](db::BatchResult&&) {});
    if (!s.ok()) error = s.error;
    return true;
  }
  const db::Status s = db_->submit(std::move(batch), [durable = std::move(durable)](db::BatchResult&& r) {
    durable(r.ok() ? std::string() : r.error);
  });
  if (!s.ok()) {
    error = "database: " + s.error;
    return false;
  }
  return true;
}

std::vector<ShownBinding> LocationService::show(std::string_view aor) const {
  std::vector<ShownBinding> out;
  if (!aor.empty()) {
    (void)writer_.for_each_binding(aor, [&](const shm::BindingView& v) {
      out.push_back({std::string(aor), v});
    });
    return out;
  }
  writer_.for_each([&](std::string_view a, const shm::BindingView& v) {
    out.push_back({std::string(a), v});
  });
  return out;
}

bool LocationService::remove_aor(std::string_view aor) {
  const bool existed = writer_.remove_aor(aor) == shm::WriteResult::Ok;
  if (db_) {
    std::string user, domain;
    split_aor(aor, settings_.use_domain, user, domain);
    db::Batch b;
    b.add(db::LocationStore::remove_aor(user, domain));
    (void)db_->submit(std::move(b), [](db::BatchResult&&) {});
  }
  return existed;
}

namespace {

// What a manual change does once the database has answered: MI has already said OK, so a refusal is logged.
std::function<void(const std::string&)> log_refusal(std::string what) {
  return [what = std::move(what)](const std::string& why) {
    if (why.empty()) return;
    control_log(-1, "usrloc: the database refused %s: %s", what.c_str(), why.c_str());
  };
}

}  // namespace

bool LocationService::add_contact(std::string_view aor, const ManualContact& c, int64_t now,
                                  std::string& error) {
  registrar::Change change{registrar::Change::Insert, {}, {}};
  registrar::Binding& b = change.binding;
  b.cseq = kManualCseq;
  (void)writer_.for_each_binding(aor, [&](const shm::BindingView& v) {
    if (change.kind == registrar::Change::Update || v.contact() != c.contact) return;
    change.kind = registrar::Change::Update;
    change.key = c.contact;
    b.cseq = v.cseq;
    b.sip_instance.assign(v.sip_instance());
    b.reg_id = v.reg_id;
  });
  b.contact = c.contact;
  b.callid = kManualCallid;
  b.user_agent = kManualUserAgent;
  // 0 stays permanent; a negative interval gives a time already past, never 0 (which would be permanent).
  b.expires = c.expires == 0 ? 0 : std::max<int64_t>(now + c.expires, 1);
  b.last_modified = now;
  b.q = c.q;
  b.flags = c.flags;
  b.cflags = c.cflags;
  b.methods = c.methods;
  std::vector<registrar::Change> changes;
  changes.push_back(std::move(change));
  return apply(aor, std::move(changes), true, log_refusal("adding " + c.contact + " to " + std::string(aor)),
               error);
}

ContactRemoval LocationService::remove_contact(std::string_view aor, std::string_view contact,
                                               std::string& error) {
  std::optional<registrar::Binding> found;
  const shm::WriteResult r = writer_.for_each_binding(aor, [&](const shm::BindingView& v) {
    if (found || v.contact() != contact) return;
    from_view(v, found.emplace());
  });
  if (r == shm::WriteResult::NotFound) return ContactRemoval::NoSuchAor;
  if (r != shm::WriteResult::Ok) {
    error = std::string("location table: ") + shm::to_string(r);
    return ContactRemoval::Failed;
  }
  if (!found) return ContactRemoval::NoSuchContact;
  std::vector<registrar::Change> changes;
  changes.push_back({registrar::Change::Delete, std::move(*found), std::string(contact)});
  const bool ok = apply(aor, std::move(changes), true,
                        log_refusal("removing " + std::string(contact) + " from " + std::string(aor)), error);
  return ok ? ContactRemoval::Removed : ContactRemoval::Failed;
}

size_t LocationService::reap(int64_t now) {
  const size_t n = writer_.reap(now);
  if (db_) {
    db::Batch b;
    b.add(db::LocationStore::delete_expired(now));
    (void)db_->submit(std::move(b), [](db::BatchResult&&) {});
  }
  return n;
}

}  // namespace sipd::control
