// What the proxy and tm fuzzers share: a Sender that stops the run when sipd sends something its own parser
// refuses, and an example script compiled once.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/program.h"
#include "config/source.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/sip/message.h"

namespace sipd::fuzz {

struct ParsingSender : proxy::Sender {
  explicit ParsingSender(const char* target) : who(target) {}
  const char* who;
  size_t sent = 0;
  void send(const sip::Endpoint&, std::string_view bytes) override {
    ++sent;
    static sip::Message out;
    if (out.parse(bytes) != sip::Defect::None) {
      std::fprintf(stderr, "%s: sipd sent a message that does not parse:\n%.*s\n", who, int(bytes.size()),
                   bytes.data());
      std::abort();
    }
  }
};

// The script at `path`, compiled; a script that does not compile ends the run.
inline config::Program compile_example(const char* path) {
  std::string text;
  if (!config::read_file(path, text)) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::abort();
  }
  const config::SourceFile file(path, std::move(text));
  config::Diagnostics diags;
  config::Program p = config::compile_source(file, diags);
  if (!diags.ok()) {
    std::fputs(diags.render(file).c_str(), stderr);
    std::abort();
  }
  return p;
}

}  // namespace sipd::fuzz
