#include "control/daemon/ul_commands.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>

namespace sipd::control {

// ---- usrloc's commands -----------------------------------------------------------------------------

namespace {

// OpenSIPS prints q as a decimal string ("" when the contact gave none): 1, 0.5, 0.25, 0.125, 0.
std::string q_text(int32_t q) {
  if (q < 0) return "";
  if (q >= 1000) return "1";
  if (q == 0) return "0";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0.%03d", int(q));
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s;
}

// The branch flags set, as the bit numbers ("" for none): the script's flag names are not known here.
std::string cflags_text(uint32_t cflags) {
  std::string s;
  for (unsigned bit = 0; bit < 32; ++bit) {
    if (!(cflags & (1u << bit))) continue;
    if (!s.empty()) s += ',';
    s += std::to_string(bit);
  }
  return s;
}

// A stable identifier for a binding (OpenSIPS's ContactID): FNV-1a over the AOR and the contact URI.
uint64_t contact_id(std::string_view aor, std::string_view contact) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto mix = [&](std::string_view s) {
    for (const char ch : s) h = (h ^ uint8_t(ch)) * 0x100000001b3ull;
  };
  mix(aor);
  mix(std::string_view("\0", 1));
  mix(contact);
  return h;
}

Json contact_json(const ShownBinding& b, int64_t now, const std::string& state) {
  const shm::BindingView& v = b.view;
  Json c = Json::object();
  c.set("Contact", v.contact());
  c.set("ContactID", std::to_string(contact_id(b.aor, v.contact())));
  if (v.expires == 0)
    c.set("Expires", "permanent");
  else if (now > v.expires)
    c.set("Expires", "expired");
  else
    c.set("Expires", v.expires - now);
  c.set("Q", q_text(v.q));
  c.set("Callid", v.callid());
  c.set("Cseq", v.cseq);
  if (!v.user_agent().empty()) c.set("User-agent", v.user_agent());
  if (!v.received().empty()) c.set("Received", v.received());
  if (!v.path().empty()) c.set("Path", v.path());
  c.set("State", state);
  c.set("Flags", v.flags);
  c.set("Cflags", cflags_text(v.cflags));
  if (!v.socket().empty()) c.set("Socket", v.socket());
  c.set("Methods", v.methods);
  if (!v.sip_instance().empty()) c.set("SIP_instance", v.sip_instance());
  return c;
}

// Checks table_name and the AOR as OpenSIPS does; the AOR to look up, or false with `error` set.
bool table_and_aor(const Json& params, bool use_domain, std::string& aor, MiError& error) {
  const Json* table = params.find("table_name");
  const Json* given = params.find("aor");
  if (!table->is_string() || !given->is_string()) {
    mi_fail(error, kMiInvalidParams, "Invalid params", "table_name and aor are strings");
    return false;
  }
  if (table->as_string() != "location") {
    mi_fail(error, 404, "Table not found");
    return false;
  }
  aor = std::string(given->as_string());
  const size_t at = aor.find('@');
  if (use_domain && at == std::string::npos) {
    mi_fail(error, 400, "Domain missing in AOR");
    return false;
  }
  if (!use_domain && at != std::string::npos) aor.resize(at);
  if (aor.empty()) {
    mi_fail(error, kMiInvalidParams, "Invalid params", "empty aor");
    return false;
  }
  return true;
}

// An integer parameter as OpenSIPS's MI takes one, a JSON number or a decimal string with an optional sign,
// in lo..hi. Unlike OpenSIPS, a fraction or a value out of range is refused rather than truncated.
bool mi_integer(const Json& v, int64_t lo, int64_t hi, int64_t& out) {
  if (v.is_int()) {
    out = v.as_int();
  } else if (v.is_number()) {
    const double d = v.as_double();
    if (d != std::trunc(d) || d < double(lo) || d > double(hi)) return false;
    out = int64_t(d);
  } else if (v.is_string()) {
    const std::string_view s = v.as_string();
    const size_t first = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (s.size() == first || s.size() - first > 12) return false;
    int64_t n = 0;
    for (size_t i = first; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      n = n * 10 + (s[i] - '0');
    }
    out = s[0] == '-' ? -n : n;
  } else {
    return false;
  }
  return out >= lo && out <= hi;
}

// A q value in OpenSIPS's MI syntax (its str2q): blanks, any number of "0"s, then the end, or "1"
// (optionally followed by "." and only "0"s), or "." and one or more digits of which the first three
// count. Thousandths, or -1 when the text is no q.
int parse_q(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  const size_t zeros = i;
  while (i < s.size() && s[i] == '0') ++i;
  if (i == s.size()) return i > zeros ? 0 : -1;
  if (s[i] == '1') {
    if (++i == s.size()) return 1000;
    if (s[i] != '.' || i + 1 == s.size()) return -1;
    while (++i < s.size())
      if (s[i] != '0') return -1;
    return 1000;
  }
  if (s[i] != '.' || i + 1 == s.size()) return -1;
  int q = 0, scale = 100;
  while (++i < s.size()) {
    if (s[i] < '0' || s[i] > '9') return -1;
    q += (s[i] - '0') * scale;
    scale /= 10;
  }
  return q;
}

// OpenSIPS numbers request methods in its own bit order (parser/msg_parser.h); sipd's bindings keep
// registrar::method_bit()s. Every bit set means every method in both; bits OpenSIPS gives no method are
// dropped otherwise (no request carries them).
uint32_t methods_from_opensips(uint32_t bits) {
  if (bits == 0xFFFFFFFFu) return registrar::kAllMethods;
  using M = sip::Method;
  static constexpr M kByBit[] = {M::Invite,  M::Cancel, M::Ack,      M::Bye,     M::Info,
                                 M::Options, M::Update, M::Register, M::Message, M::Subscribe,
                                 M::Notify,  M::Prack,  M::Refer,    M::Publish, M::Other};
  uint32_t out = 0;
  for (size_t bit = 0; bit < std::size(kByBit); ++bit)
    if (bits & (1u << bit)) out |= registrar::method_bit(kByBit[bit]);
  return out;
}

// ul_add's parameters after table_name and aor, checked in OpenSIPS's order; false with `error` set.
bool manual_contact(const Json& params, ManualContact& c, MiError& error) {
  const Json& contact = *params.find("contact");
  if (!contact.is_string() || contact.as_string().empty()) {
    mi_fail(error, kMiInvalidParams, "Invalid params", "contact is a non-empty string");
    return false;
  }
  c.contact = std::string(contact.as_string());
  int64_t n = 0;
  if (!mi_integer(*params.find("expires"), std::numeric_limits<int32_t>::min(),
                  std::numeric_limits<int32_t>::max(), n)) {
    mi_fail(error, kMiInvalidParams, "Invalid params", "expires is an integer (seconds; 0: permanent)");
    return false;
  }
  c.expires = n;
  // q is read as text; a JSON number stands for its integer's text (OpenSIPS would read 0.5 as "0").
  const Json& q = *params.find("q");
  if (q.is_number() && !q.is_int()) {
    mi_fail(error, 400, "Bad parameter value", "a fractional q is given as a string, e.g. \"0.5\"");
    return false;
  }
  if (!q.is_string() && !q.is_int()) {
    mi_fail(error, kMiInvalidParams, "Invalid params", "q is a string, e.g. \"0.5\"");
    return false;
  }
  const std::string digits = q.is_int() ? std::to_string(q.as_int()) : std::string();
  c.q = parse_q(q.is_int() ? std::string_view(digits) : q.as_string());
  if (c.q < 0) {
    mi_fail(error, 400, "Bad parameter value", "q is 0 to 1 with at most three decimals");
    return false;
  }
  // 32-bit masks: a negative value stands for its two's complement, as OpenSIPS's int cast makes it.
  uint32_t methods = 0;
  const std::pair<const char*, uint32_t*> masks[] = {
      {"flags", &c.flags}, {"cflags", &c.cflags}, {"methods", &methods}};
  for (const auto& [name, out] : masks) {
    if (!mi_integer(*params.find(name), std::numeric_limits<int32_t>::min(),
                    std::numeric_limits<uint32_t>::max(), n)) {
      mi_fail(error, kMiInvalidParams, "Invalid params", std::string(name) + " is a 32-bit integer");
      return false;
    }
    *out = uint32_t(n);
  }
  c.methods = methods_from_opensips(methods);
  return true;
}

}  // namespace

void add_usrloc_commands(CommandTable& table, UsrlocCommandHooks hooks) {
  auto h = std::make_shared<const UsrlocCommandHooks>(std::move(hooks));

  table.add("ul_dump", MiSignature{{"brief"}, 0}, [h](const Json& params, MiError& error) {
    bool brief = false;
    if (const Json* b = params.find("brief")) {
      // 3.x takes an integer; 2.x's clients send the word "brief".
      if (b->is_number())
        brief = b->as_int() != 0;
      else if (b->is_string())
        brief = b->as_string() == "brief" || b->as_string() == "1";
      else
        return mi_fail(error, kMiInvalidParams, "Invalid params", "brief is an integer");
    }
    const int64_t now = h->now();
    const std::vector<ShownBinding> all = h->show({});
    // Bindings come grouped by AOR; the index keeps an AOR's bindings together even if they were not.
    struct Record {
      std::string_view aor;
      Json contacts = Json::array();
    };
    std::vector<Record> records;
    std::unordered_map<std::string_view, size_t> index;
    for (const ShownBinding& b : all) {
      const auto [it, added] = index.emplace(b.aor, records.size());
      if (added) records.push_back({b.aor});
      if (!brief) records[it->second].contacts.push(contact_json(b, now, h->state));
    }
    Json aors = Json::array();
    for (Record& r : records) {
      Json& aor = aors.push(Json::object());
      aor.set("AOR", r.aor);
      if (!brief) aor.set("Contacts", std::move(r.contacts));
    }
    Json domain = Json::object();
    domain.set("name", "location");
    domain.set("hash_size", h->hash_size);
    domain.set("AORs", std::move(aors));
    Json result = Json::object();
    result.set("Domains", Json::array()).push(std::move(domain));
    return result;
  });

  table.add("ul_show_contact", MiSignature{{"table_name", "aor"}, 2},
            [h](const Json& params, MiError& error) {
              std::string aor;
              if (!table_and_aor(params, h->use_domain, aor, error)) return Json();
              const std::vector<ShownBinding> bindings = h->show(aor);
              if (bindings.empty()) return mi_fail(error, 404, "AOR not found");
              const int64_t now = h->now();
              Json result = Json::object();
              result.set("AOR", bindings.front().aor);
              Json& contacts = result.set("Contacts", Json::array());
              for (const ShownBinding& b : bindings) contacts.push(contact_json(b, now, h->state));
              return result;
            });

  table.add("ul_rm", MiSignature{{"table_name", "aor"}, 2}, [h](const Json& params, MiError& error) {
    std::string aor;
    if (!table_and_aor(params, h->use_domain, aor, error)) return Json();
    if (!h->remove(aor)) return mi_fail(error, 404, "AOR not found");
    return Json("OK");
  });
  // OpenSIPS 3's parameter names, in its order; the sixth is spelled as its code spells it.
  table.add("ul_add",
            MiSignature{
                {"table_name", "aor", "contact", "expires", "q", "unsused", "flags", "cflags", "methods"}, 9},
            [h](const Json& params, MiError& error) {
              std::string aor;
              if (!table_and_aor(params, h->use_domain, aor, error)) return Json();
              ManualContact c;
              if (!manual_contact(params, c, error)) return Json();
              std::string why;
              if (!h->add(aor, c, why)) return mi_fail(error, 500, "Internal Error", why);
              return Json("OK");
            });

  table.add("ul_rm_contact", MiSignature{{"table_name", "aor", "contact"}, 3},
            [h](const Json& params, MiError& error) {
              std::string aor;
              if (!table_and_aor(params, h->use_domain, aor, error)) return Json();
              const Json& contact = *params.find("contact");
              if (!contact.is_string())
                return mi_fail(error, kMiInvalidParams, "Invalid params", "contact is a string");
              std::string why;
              switch (h->remove_contact(aor, contact.as_string(), why)) {
                case ContactRemoval::Removed:
                  return Json("OK");
                case ContactRemoval::NoSuchAor:
                  return mi_fail(error, 404, "AOR not found");
                case ContactRemoval::NoSuchContact:
                  return mi_fail(error, 404, "Contact not found");
                case ContactRemoval::Failed:
                  break;
              }
              return mi_fail(error, 500, "Internal Error", why);
            });
  table.describe("ul_dump", "every AOR of the location table with its contacts (brief: the AORs only)",
                 "usrloc");
  table.describe("ul_add", "adds a contact to an AOR, or replaces the AOR's binding with that contact",
                 "usrloc");
  table.describe("ul_rm_contact", "removes one contact of an AOR", "usrloc");
  table.describe("ul_show_contact", "one AOR's contacts", "usrloc");
  table.describe("ul_rm", "removes an AOR and all its contacts", "usrloc");
}

}  // namespace sipd::control
