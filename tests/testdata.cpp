#include "tests/testdata.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sipd::test {

std::string testdata_dir() {
  if (const char* env = std::getenv("SIPD_TESTDATA")) return env;
  return SIPD_TESTDATA;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

bool protos_first_record(std::string_view file, std::string& out) {
  size_t i = 0;
  size_t length = 0;
  while (i < file.size() && file[i] >= '0' && file[i] <= '9' && i < 9)
    length = length * 10 + size_t(file[i++] - '0');
  if (i == 0 || i >= file.size() || file[i] != ' ' || file.size() - i - 1 < length) return false;
  out.assign(file.substr(i + 1, length));
  return true;
}

std::string protos_instantiate(std::string pdu, size_t number, const ProtosAddresses& a) {
  char branch[16];
  std::snprintf(branch, sizeof branch, "%06zu", number);
  replace_all(pdu, "<To>", a.to);
  replace_all(pdu, "<From>", a.from);
  replace_all(pdu, "<From-Address>", a.from_address);
  replace_all(pdu, "<From-IP>", a.from_ip);
  replace_all(pdu, "<Local-Port>", "5060");
  replace_all(pdu, "<Call-ID>", std::to_string(number));
  replace_all(pdu, "<Branch-ID>", branch);
  replace_all(pdu, "<CSeq>", "1");
  replace_all(pdu, "<Teardown-Method>", "CANCEL");
  const size_t blank = pdu.find("\r\n\r\n");
  const size_t body = blank == std::string::npos ? 0 : pdu.size() - (blank + 4);
  replace_all(pdu, "<Content-Length>", std::to_string(body));
  if (pdu.size() > 65507) pdu.resize(65507);
  return pdu;
}

}  // namespace sipd::test
