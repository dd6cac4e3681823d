// avpops' database functions as control answers them: avp_db_load, avp_db_store, avp_db_delete and
// avp_db_query, asked by a worker's suspended script (Questions), run against the `user_preference` table
// (control/db/user_preference.h) in the Database's group commit, and answered with OpenSIPS 3.x's return
// codes and the AVPs the script then reads — only after the database's completion. Without a database
// (usrloc memory-only and no db_url) every call answers -1 and one line says avpops needs the database.
//
// What arrives and how it is read: args[0] is the source's VALUE as the worker formatted it, followed by
// the part it names: the script's own /uri, /username, /domain or /uuid flag, or the one the compiler wrote
// as OpenSIPS decides when it loads the script ($ru, $fu, $tu and $ou are URIs, any other pseudo-variable
// or constant a uuid): "$fu" arrives as "sip:alice@example.org/uri", "$avp(uuid)" as "u-1/uuid". Only a
// source the compiler leaves as it is (a pseudo-variable with transformations) can arrive without one;
// then a value that is a sip:, sips: or tel: URI means 'uri' and anything else 'uuid'. args[1] is the name
// spec as written ("$avp(target)",
// "$avp(i:700)", "a", "s/other_table"); the AVPs answered carry the name the compiler gives the script's
// $avp(...) (Program::avp_names: "target", "i:700", "s:x").
//
// Who calls: sipd-control's main thread (Questions handlers; the database's completions, dispatched on the
// main thread, send the answers). The service must outlive the database's pending completions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/daemon/questions.h"
#include "control/db/database.h"
#include "control/db/user_preference.h"

namespace sipd::control {

// The source argument's value as it arrives from the worker: the flag split off when it is one of avpops'
// four, and kImplicit resolved (a sip:/sips:/tel: URI is 'uri', anything else 'uuid'); `expr` is the value.
db::SourceSpec avpops_source(std::string_view arg);

// avp_db_query's destination list "$avp(a);$avp(b)" as AVP names {"a", "b"}; empty for an empty list (the
// caller then names the columns "1", "2"...). False (with `error`) for an element that is not $avp(name).
bool avpops_query_names(std::string_view list, std::vector<std::string>& names, std::string& error);

struct AvpopsCounters {
  uint64_t loads = 0, stores = 0, deletes = 0, queries = 0;
  uint64_t failed = 0;     // answered -1 for a bad argument or a database error
  uint64_t no_db = 0;      // answered -1 because there is no database
  uint64_t truncated = 0;  // answers that had more AVPs than one answer carries (shm::kMaxAnswerAvps)
};

class AvpopsService {
 public:
  // `use_domain` is avpops' use_domain modparam; `table` its avp_table (the preference table used when the
  // name spec names none). With a database, the table is created if missing (at once, on this thread).
  AvpopsService(db::Database* db, bool use_domain, std::string table = "user_preference");

  // avp_db_load(source, name[, db_id[, prefix]]): 1 when at least one AVP was loaded, -1 otherwise.
  void load(const Asked& question, Answer answer);
  // avp_db_store(source, $avp(name)[, db_id]): one row per value of the AVP; 1 stored, -1 nothing to store
  // or an error.
  void store(const Asked& question, Answer answer);
  // avp_db_delete(source, name[, db_id]): 1 when the statement ran (whatever it deleted), -1 on error.
  void remove(const Asked& question, Answer answer);
  // avp_db_query(query[, dest[, db_id]]): 1 with rows (or for a statement that returns none), -2 for an
  // empty result set, -1 on error.
  void query(const Asked& question, Answer answer);

  // Handlers for the four names in `questions`.
  void register_with(Questions& questions);

  const AvpopsCounters& counters() const { return counters_; }

 private:
  bool have_db(const Asked& question, Answer& answer);
  void fail(const Asked& question, Answer& answer, const std::string& why);
  bool submit(const Asked& question, Answer& answer, db::Batch batch,
              std::function<Reply(db::BatchResult&&)> reply);

  db::Database* db_;
  bool use_domain_;
  std::string table_;
  bool told_no_db_ = false;
  AvpopsCounters counters_;
};

}  // namespace sipd::control
