// The syntax tree of a routing script, as the parser builds it: global parameters, loaded modules,
// module parameters and route blocks with their statements and expressions. Names are not resolved here
// (that is the checker's job against the registry); every node keeps the byte offset it starts at, so any
// later pass can report `FILE:LINE:COL`.
//
// Who calls: the config parser builds it; the checker and compiler read it. Single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/lexer.h"

namespace sipd::config {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

enum class ExprKind : uint8_t {
  Null,    // an argument left empty: f(a, , b)
  Int,     // number
  String,  // text, transforms
  PVar,    // text ("$var(x)"), transforms
  Name,    // text: a core keyword or value (method, uri, myself, INET, UDP...)
  Call,    // text: function name, args
  Unary,   // op, args[0]
  Binary,  // op, args[0] args[1]
};

struct Expr {
  ExprKind kind = ExprKind::Int;
  uint32_t offset = 0;
  int64_t number = 0;
  std::string text;
  std::vector<std::string> transforms;  // "s.substr,0,3", in order
  Tok op = Tok::End;
  std::vector<ExprPtr> args;
  bool has_parens = false;  // Call: written with an argument list, even an empty one
  bool bracketed = false;   // `[ expr ]`: OpenSIPS's arithmetic in a condition, true when non-zero
};

enum class StmtKind : uint8_t {
  Expr,     // expr (a function call, usually)
  Assign,   // target op expr: op is =, :=, or a compound (+= -= *= /= %= &= |= ^=)
  ForEach,  // for (target in expr) body: target takes each value of an indexed pseudo-variable
  If,       // expr, body, else_body
  Switch,   // expr, cases
  While,    // expr, body
  Return,   // expr (may be null)
  Break,
  Exit,
  Drop,
  Block,  // body
};

struct Case {
  uint32_t offset = 0;
  bool is_default = false;
  ExprPtr value;
  StmtList body;
};

struct Stmt {
  StmtKind kind = StmtKind::Expr;
  uint32_t offset = 0;
  ExprPtr expr;
  ExprPtr target;
  Tok op = Tok::Assign;
  StmtList body;
  StmtList else_body;
  std::vector<Case> cases;
};

enum class RouteKind : uint8_t { Request, Reply, Failure, Branch, Local, Error, Startup, Timer, Event };
std::string_view to_string(RouteKind k);

struct Route {
  RouteKind kind = RouteKind::Request;
  uint32_t offset = 0;
  std::string name;  // "" for the main route and for unnamed onreply/error/local/startup routes
  uint32_t end = 0;  // offset of the closing '}'
  StmtList body;
  uint32_t interval = 0;  // timer_route[name, seconds]
  std::string mode;       // event_route[E_NAME, sync|async] (2.x): the word as written, or ""
};

struct GlobalParam {
  uint32_t offset = 0;
  std::vector<std::string> names;  // `gid/group=sip` names both spellings of one parameter
  Token value;                     // raw text (Ident) or a quoted String
};

struct LoadModule {
  uint32_t offset = 0;
  std::string path;
};

struct ModParam {
  uint32_t offset = 0;
  std::string module;
  std::string param;
  ExprPtr value;  // Int or String
};

struct Script {
  std::vector<GlobalParam> globals;
  std::vector<LoadModule> modules;
  std::vector<ModParam> modparams;
  std::vector<Route> routes;
};

}  // namespace sipd::config
