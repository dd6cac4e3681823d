#include "control/daemon/pike_commands.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dataplane/sip/endpoint.h"

namespace sipd::control {

namespace {

uint32_t workers_of(const shm::Segment& segment) {
  return std::min(segment.header().active_workers.load(std::memory_order_relaxed), shm::kMaxWorkers);
}

std::string text_of(uint32_t ip) {
  char buf[16];
  return std::string(sip::format_ipv4(ip, buf));
}

}  // namespace

void add_pike_commands(CommandTable& table, shm::Segment& segment) {
  table.add("pike_list", MiSignature{{}, 0}, [&segment](const Json&, MiError& error) -> Json {
    std::vector<uint32_t> ips;
    for (uint32_t w = 0; w < workers_of(segment); ++w)
      if (!shm::read_pike(segment.pike(w), ips))
        return mi_fail(error, 500, "worker " + std::to_string(w) + " kept rewriting its list; try again");
    std::sort(ips.begin(), ips.end());
    ips.erase(std::unique(ips.begin(), ips.end()), ips.end());
    Json list = Json::array();
    for (uint32_t ip : ips) list.push(Json(text_of(ip)));
    Json out = Json::object();
    out.set("IPs", std::move(list));
    return out;
  });
  table.describe("pike_list", "lists the source addresses pike holds blocked", "pike");

  table.add("pike_rm", MiSignature{{"ip"}, 1}, [&segment](const Json& params, MiError& error) -> Json {
    const Json* p = params.find("ip");
    if (!p || !p->is_string()) return mi_fail(error, kMiInvalidParams, "Invalid params");
    const std::string text(p->as_string());
    uint32_t ip = 0;
    if (!sip::parse_ipv4(text, ip)) {
      in6_addr v6{};
      if (inet_pton(AF_INET6, text.c_str(), &v6) == 1)  // an address, but the workers track IPv4 only
        return mi_fail(error, 400, "IP not blocked");
      return mi_fail(error, 500, "Bad IP");
    }
    bool blocked = false, refused = false;
    for (uint32_t w = 0; w < workers_of(segment); ++w) {
      std::vector<uint32_t> ips;
      (void)shm::read_pike(segment.pike(w), ips);
      if (std::find(ips.begin(), ips.end(), ip) == ips.end()) continue;
      blocked = true;
      if (!shm::push_pike_removal(segment.pike(w), ip)) refused = true;
    }
    if (!blocked) return mi_fail(error, 400, "IP not blocked");
    if (refused) return mi_fail(error, 500, "a worker has too many removals waiting; try again");
    return Json("OK");
  });
  table.describe("pike_rm", "unblocks a source address pike holds blocked", "pike");
}

}  // namespace sipd::control
