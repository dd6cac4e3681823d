#include "control/db/db_url.h"

#include <cctype>

namespace sipd::db {
namespace {

bool valid_scheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.' && c != '_')
      return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

DbUrl parse_db_url(std::string_view url) {
  DbUrl out;
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.front()))) url.remove_prefix(1);
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.remove_suffix(1);
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || !valid_scheme(url.substr(0, colon))) {
    out.error = "db_url '" + std::string(url) +
                "' has no scheme: sipd has the embedded SQLite database (sqlite:///path)";
    return out;
  }
  const std::string scheme = lower(url.substr(0, colon));
  if (scheme != "sqlite") {
    out.error = "db_url scheme '" + scheme +
                "' is not built into this build: sipd has the embedded SQLite database (sqlite:///path)";
    return out;
  }
  std::string_view rest = url.substr(colon + 1);
  if (rest.substr(0, 2) != "//") {
    out.error = "db_url '" + std::string(url) + "': expected sqlite:///absolute/path.db";
    return out;
  }
  rest.remove_prefix(2);
  while (rest.size() > 1 && rest[0] == '/' && rest[1] == '/') rest.remove_prefix(1);  // sqlite:////x is /x
  if (rest.empty() || rest == "/") {
    out.error = "db_url '" + std::string(url) + "' names no database file";
    return out;
  }
  if (rest.back() == '/') {
    out.error = "db_url '" + std::string(url) + "' names a directory, not a database file";
    return out;
  }
  if (rest.find('\0') != std::string_view::npos) {
    out.error = "db_url has a NUL byte";
    return out;
  }
  out.path = rest.front() == '/' ? std::string(rest) : "/" + std::string(rest);
  return out;
}

}  // namespace sipd::db
