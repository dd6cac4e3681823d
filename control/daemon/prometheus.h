// OpenSIPS's prometheus module, served by sipd-control on httpd when the script loads prometheus.so: the
// statistics the `statistics` modparam names ("all", "group:" or a statistic's name; set it as often as
// needed; nothing is exported without it), as Prometheus's text format at GET http://IP:PORT/ROOT (httpd's
// ip and port, prometheus' root, "metrics"). Each sample is `# TYPE name counter|gauge` then `name value`,
// the name being prefix, delimiter, [group_prefix group delimiter when group_mode is 1], the statistic's
// name with anything outside [a-zA-Z0-9_:] made '_'; group_mode 2 puts the group in a label (group_label,
// "group") instead. OpenSIPS 3.4's `labels` modparam ("group: /REGEX/SUBST/") turns a group whose name
// matches into another group and labels: SUBST yields "group:label=\"value\",...". sipd's per-worker
// statistics (the dataplane group) carry a worker="N" label, so each counter is one metric.
//
// The page is built from what the workers last published in the segment: a scrape never reaches a worker.
//
// Who calls: sipd-control's main thread.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "config/program.h"
#include "control/daemon/statistics.h"

namespace sipd::control {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

struct PrometheusSettings {
  std::string root = "metrics";
  std::string prefix = "opensips";
  std::string delimiter = "_";
  std::string group_prefix;
  std::string group_label = "group";
  int group_mode = 0;  // 0 none, 1 in the name, 2 as a label
  bool all = false;
  std::vector<std::string> groups, names;  // in the order the modparams gave them
  struct LabelRule {
    std::regex match;
    std::string format;  // std::regex_replace's, from the modparam's \1..\9
  };
  std::vector<LabelRule> labels;
};

// The script's prometheus modparams; false with the reason for a value OpenSIPS would refuse.
bool prometheus_settings(const config::Program& program, PrometheusSettings& out, std::string& error);

// One scrape's body.
std::string prometheus_page(const PrometheusSettings& settings, const Statistics& stats);

}  // namespace sipd::control
