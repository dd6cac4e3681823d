#include "dataplane/proxy/script.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "config/checker.h"
#include "config/parser.h"
#include "config/registry.h"
#include "dataplane/proxy/proxy.h"

namespace sipd::proxy {

config::Program appliance_program(const config::SourceFile& file, const config::Appliance& app,
                                  config::Diagnostics& diags, config::Script* ast_out) {
  config::Script own;
  config::Script& ast = ast_out ? *ast_out : own;
  config::Program program = config::compile_source(file, diags, &ast);
  config::check_against_appliance(file, ast, app, diags);
  // The checker refused what the registry says has no body; this is the build's own word on the rest.
  for (const engine::Unbound& u : Proxy::unbound(program))
    if (config::registry().functions[u.function].impl == config::Impl::Worker)
      diags.error(file.pos(u.source),
                  config::unimplemented_message(config::registry().functions[u.function]));
  // `myself` includes the port's address (DESIGN.md: the appliance owns addresses).
  program.local_hosts.push_back(app.address);
  program.local_ports.push_back(app.sip_port);
  return program;
}

bool loads_module(const config::Script& ast, std::string_view module) {
  for (const config::LoadModule& m : ast.modules) {
    std::string_view name = m.path;
    if (const size_t slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    if (name.ends_with(".so")) name.remove_suffix(3);
    if (name == module) return true;
  }
  return false;
}

namespace {

bool write_whole(const std::string& path, std::string_view text, std::string& error) {
  const std::string temporary = path + ".new";
  FILE* f = std::fopen(temporary.c_str(), "wb");
  if (!f) {
    error = "cannot write " + temporary + ": " + std::strerror(errno);
    return false;
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace

bool active_script(const config::Appliance& app, ActiveScript& out, std::string& error) {
  const std::string kept = app.state_dir + "/script.cfg";
  std::string name;
  if (config::read_file(kept, out.text)) {
    out.pushed = true;
    out.file = config::read_file(app.state_dir + "/script.path", name) && !name.empty() ? name : kept;
    while (!out.file.empty() && (out.file.back() == '\n' || out.file.back() == '\r')) out.file.pop_back();
    return true;
  }
  out.pushed = false;
  out.file = app.script;
  if (!config::read_file(app.script, out.text)) {
    error = "cannot read the routing script " + app.script;
    return false;
  }
  return true;
}

bool keep_pushed_script(const config::Appliance& app, const std::string& file, std::string_view text,
                        std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(app.state_dir, ec);  // memory-only usrloc never made it
  return write_whole(app.state_dir + "/script.cfg", text, error) &&
         write_whole(app.state_dir + "/script.path", file + "\n", error);
}

}  // namespace sipd::proxy
