// The location service in the control process (OpenSIPS usrloc): the shared-memory table (control is its
// only writer; workers read it) and its copy in the embedded database, kept as usrloc's working mode says.
// The registrar reads an AOR's bindings here and applies its changes here; `sipctl ul` shows and removes
// through it; a timer reaps what has expired.
//
// Who calls: sipd-control's main thread only (the database work runs on the database's own thread; its
// completions come back on the main thread through Database::dispatch_completions()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/program.h"
#include "control/db/database.h"
#include "control/registrar/registrar.h"
#include "control/shm/location.h"

namespace sipd::control {

// usrloc's working_mode_preset (3.x), or the db_mode (2.x) it stands for.
enum class UsrlocMode : uint8_t {
  MemoryOnly,    // single-instance-no-db / db_mode 0: the shared table only (it survives control's restarts)
  WriteThrough,  // single-instance-sql-write-through / db_mode 1: a change is durable before it is answered
  WriteBack,     // single-instance-sql-write-back / db_mode 2: persisted in the background, answered at once
};

struct UsrlocSettings {
  UsrlocMode mode = UsrlocMode::WriteThrough;  // sipd's default when the script says nothing (README)
  bool use_domain = false;
  std::string db_path;  // the SQLite file ("" for none: MemoryOnly)
};

// Reads usrloc's modparams of a compiled script: working_mode_preset, db_mode, db_url, use_domain. A preset
// that needs a cluster, or a db_url this build has no driver for, is an error with the reason.
// `default_db` is the appliance's database file, used when the script names none.
bool usrloc_settings(const config::Program& program, const std::string& default_db, UsrlocSettings& out,
                     std::string& error);

// One binding as `sipctl ul show` prints it.
struct ShownBinding {
  std::string aor;
  shm::BindingView view;
};

// A contact an operator adds by hand (MI ul_add). It carries what OpenSIPS's usrloc gives such a contact:
// no received address, no Path, no socket; a Call-ID and a User-Agent that say it came from MI.
struct ManualContact {
  std::string contact;  // stored as given; matched byte for byte against the AOR's contacts
  int64_t expires = 0;  // seconds from now; 0: permanent (negative: already expired, reaped soon)
  int q = -1;           // thousandths; -1: none
  uint32_t flags = 0;   // registrar::kFlagMemoryOnly: kept out of the database
  uint32_t cflags = 0;
  uint32_t methods = registrar::kAllMethods;  // sipd's bits (registrar::method_bit)
};

// What a manual contact's binding says of its origin (shown by ul_dump, stored in the database).
inline constexpr std::string_view kManualCallid = "manual-contact@sipd-control.mi";
inline constexpr std::string_view kManualUserAgent = "sipd-control MI";
inline constexpr uint32_t kManualCseq = 1;  // a new manual contact's CSeq; a replaced binding keeps its own

enum class ContactRemoval : uint8_t { Removed, NoSuchAor, NoSuchContact, Failed };

class LocationService {
 public:
  // `writer` is attached to (or has formatted) the segment's table; `db` is null in MemoryOnly mode.
  LocationService(shm::LocationWriter& writer, db::Database* db, const UsrlocSettings& settings);

  // At start-up, when the shared table was just formatted (the appliance restarted): every row of the
  // database back into it. The number of bindings loaded, or -1 with the error.
  int64_t load_from_database(std::string& error);

  // The AOR's bindings as the registrar sees them (expired ones included: the registrar decides).
  std::vector<registrar::Binding> bindings(std::string_view aor) const;
  // The same into `out` (replacing what it held): a caller that keeps `out` reuses its strings' capacity.
  void bindings(std::string_view aor, std::vector<registrar::Binding>& out) const;

  // Applies the registrar's changes to the table now (workers see them at once) and, unless memory-only,
  // to the database; `durable` runs on the main thread once they are (at once when nothing is persisted or
  // in WriteBack mode), with "" or the error. A change the table refuses (full, too long) fails the whole
  // call before anything is applied, with the reason. The changes are taken (their text moves into the
  // database's operations).
  bool apply(std::string_view aor, std::vector<registrar::Change> changes, bool persist,
             std::function<void(const std::string& error)> durable, std::string& error);

  // `sipctl ul`: every AOR (or one), and removing one (true when it existed).
  std::vector<ShownBinding> show(std::string_view aor = {}) const;
  bool remove_aor(std::string_view aor);

  // MI ul_add: adds `c` to the AOR (creating the AOR), or replaces the AOR's binding with the same contact
  // text, which keeps only its CSeq and its SIP instance (with its reg-id): received, Path and socket are
  // cleared and the rest is `c`'s, as OpenSIPS's ul_add does. Applied as a REGISTER's changes are
  // (apply()), so the database follows unless `c` is memory-only; the call does not wait for the database
  // (a refusal there is logged to stderr). False with the reason when the table refuses it (full, too
  // long) or the database cannot take the write.
  bool add_contact(std::string_view aor, const ManualContact& c, int64_t now, std::string& error);
  // MI ul_rm_contact: removes the AOR's binding whose contact is `contact` byte for byte, from the table
  // and the database (the AOR goes with its last binding). Failed comes with the reason in `error`.
  ContactRemoval remove_contact(std::string_view aor, std::string_view contact, std::string& error);

  // Frees expired bindings in the table and the database; the number freed in the table.
  size_t reap(int64_t now);

  uint32_t aors() const { return writer_.aors(); }
  uint32_t bindings() const { return writer_.bindings(); }
  const UsrlocSettings& settings() const { return settings_; }

 private:
  shm::LocationWriter& writer_;
  db::Database* db_;
  UsrlocSettings settings_;
};

}  // namespace sipd::control
