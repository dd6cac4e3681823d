// A listen= / socket= value taken apart: `[proto:]host[:port]` and the options OpenSIPS 3.x allows after it
// (`as host[:port]`, `use_workers N`, `use_auto_scaling_profile NAME`, `tag NAME`, `anycast`, `frag`,
// `reuse_port`). The compiler takes the local addresses from it, the checker the protocol and the options
// that have no effect here, the appliance check the address and port.
//
// Who calls: the config checker, compiler and appliance check. Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sipd::config {

struct ListenSpec {
  std::string proto = "udp";         // lower case
  std::string host;                  // an IPv4 or [IPv6] literal, a name, or "*"
  uint16_t port = 0;                 // 0: none given
  std::string advertised;            // after `as`, or ""
  std::vector<std::string> options;  // the other options, each as written ("use_workers 4", "anycast")
};

// False, with `error`, when the value is not of that form.
bool parse_listen(std::string_view value, ListenSpec& out, std::string& error);

}  // namespace sipd::config
