// Access to the shared test data (../shared/testdata, never copied into the tree) and small file helpers
// for tests and benchmarks. Test code only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sipd::test {

// Root of the shared test data; SIPD_TESTDATA in the environment overrides the compiled-in path.
std::string testdata_dir();

// Whole file as bytes; fails the calling test (throws std::runtime_error) when unreadable.
std::string read_file(const std::string& path);

// Regular files directly in `dir`, sorted by name, as full paths.
std::vector<std::string> list_dir(const std::string& dir);

// PROTOS c07-sip test cases (shared/testdata/CORPORA.md): the first `<length> SP <payload>` record of a
// case file, and its placeholders filled in as the PROTOS tool does for case `number` (Content-Length last),
// cut at the tool's maximum PDU of 65,507 bytes.
struct ProtosAddresses {
  std::string_view to;            // <To>: user@host
  std::string_view from;          // <From>
  std::string_view from_address;  // <From-Address>
  std::string_view from_ip;       // <From-IP>
};
bool protos_first_record(std::string_view file, std::string& out);
std::string protos_instantiate(std::string pdu, size_t number, const ProtosAddresses& a);

}  // namespace sipd::test
