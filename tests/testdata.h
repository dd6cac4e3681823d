// Access to the shared test data (../shared/testdata, never copied into the tree) and small file helpers
// for tests and benchmarks. Test code only.
#pragma once

#include <string>
#include <vector>

namespace sipd::test {

// Root of the shared test data; SIPD_TESTDATA in the environment overrides the compiled-in path.
std::string testdata_dir();

// Whole file as bytes; fails the calling test (throws std::runtime_error) when unreadable.
std::string read_file(const std::string& path);

// Regular files directly in `dir`, sorted by name, as full paths.
std::vector<std::string> list_dir(const std::string& dir);

}  // namespace sipd::test
