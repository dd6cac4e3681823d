#include "config/parser.h"

#include <cctype>
#include <string>

namespace sipd::config {
namespace {

constexpr int kMaxDepth = 200;  // nesting of blocks and expressions; deeper is an error, not a stack overflow

struct RouteWord {
  std::string_view word;
  RouteKind kind;
};

constexpr RouteWord kRouteWords[] = {
    {"route", RouteKind::Request},         {"request_route", RouteKind::Request},
    {"onreply_route", RouteKind::Reply},   {"reply_route", RouteKind::Reply},
    {"failure_route", RouteKind::Failure}, {"branch_route", RouteKind::Branch},
    {"local_route", RouteKind::Local},     {"error_route", RouteKind::Error},
    {"startup_route", RouteKind::Startup}, {"timer_route", RouteKind::Timer},
    {"event_route", RouteKind::Event},
};

bool route_word(std::string_view w, RouteKind& kind) {
  for (const RouteWord& r : kRouteWords) {
    if (r.word == w) {
      kind = r.kind;
      return true;
    }
  }
  return false;
}

bool is_assignment(Tok t) {
  switch (t) {
    case Tok::Assign:
    case Tok::ColonAssign:
    case Tok::PlusAssign:
    case Tok::MinusAssign:
    case Tok::StarAssign:
    case Tok::SlashAssign:
    case Tok::PercentAssign:
    case Tok::AndAssign:
    case Tok::OrAssign:
    case Tok::XorAssign:
      return true;
    default:
      return false;
  }
}

class Parser {
 public:
  Parser(const SourceFile& file, Diagnostics& diags) : file_(file), diags_(diags), lexer_(file, diags) {
    advance();
  }

  Script run() {
    Script script;
    while (cur_.kind != Tok::End) top_level(script);
    return script;
  }

 private:
  // ---- tokens ----
  void advance() {
    prev_end_ = cur_.end;
    do {
      cur_ = lexer_.next();
    } while (cur_.kind == Tok::Error);  // the lexer already reported it
  }

  bool accept(Tok t) {
    if (cur_.kind != t) return false;
    advance();
    return true;
  }

  bool expect(Tok t, std::string_view what) {
    if (accept(t)) return true;
    error(cur_.begin,
          "expected " + std::string(to_string(t)) + " " + std::string(what) + ", found " + describe(cur_));
    return false;
  }

  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Tok::Ident:
        return "'" + t.text + "'";
      case Tok::PVar:
        return "'" + t.text + "'";
      case Tok::String:
        return "a string";
      case Tok::Int:
        return "the number " + std::to_string(t.number);
      default:
        return std::string(to_string(t.kind));
    }
  }

  void error(uint32_t offset, std::string message) { diags_.error(file_.pos(offset), std::move(message)); }
  uint32_t line_of(uint32_t offset) const { return file_.pos(offset).line; }

  // ---- top level ----
  // True when the identifier at cur_ is followed by '=' (not '==') or '/', i.e. starts `name = value`.
  bool at_global_assignment() const {
    const std::string_view src = file_.text_from(cur_.end);
    size_t i = 0;
    while (i < src.size() && (src[i] == ' ' || src[i] == '\t')) ++i;
    return i < src.size() && ((src[i] == '=' && (i + 1 >= src.size() || src[i + 1] != '=')) || src[i] == '/');
  }

  bool at_top_level_start() const {
    if (cur_.kind == Tok::End) return true;
    if (cur_.kind != Tok::Ident) return false;
    RouteKind k;
    return route_word(cur_.text, k) || cur_.text == "loadmodule" || cur_.text == "modparam" ||
           at_global_assignment();
  }

  void top_level(Script& script) {
    RouteKind kind;
    if (cur_.kind == Tok::Ident && route_word(cur_.text, kind)) return route_block(script, kind);
    if (cur_.kind == Tok::Ident && cur_.text == "loadmodule") return load_module(script);
    if (cur_.kind == Tok::Ident && cur_.text == "modparam") return mod_param(script);
    if (cur_.kind == Tok::Ident && at_global_assignment()) return global_param(script);
    std::string message =
        "expected a global parameter, loadmodule, modparam or a route block, found " + describe(cur_);
    if (last_route_close_ != UINT32_MAX)
      message += " (statements must be inside a route block; the '}' at line " +
                 std::to_string(line_of(last_route_close_)) + ", column " +
                 std::to_string(file_.pos(last_route_close_).column) + " closed the route above)";
    error(cur_.begin, message);
    // Skip to the next thing that can start a top-level item, so one stray block costs one error.
    do {
      advance();
    } while (!at_top_level_start());
  }

  void global_param(Script& script) {
    GlobalParam g;
    g.offset = cur_.begin;
    g.names.push_back(cur_.text);
    advance();
    while (accept(Tok::Slash)) {
      if (cur_.kind != Tok::Ident) {
        error(cur_.begin, "expected a parameter name after '/', found " + describe(cur_));
        break;
      }
      g.names.push_back(cur_.text);
      advance();
    }
    if (cur_.kind != Tok::Assign) {
      error(cur_.begin,
            "expected '=' after global parameter '" + g.names.front() + "', found " + describe(cur_));
      advance();
      return;
    }
    g.value = lexer_.raw_value();  // the lexer stands right after '='
    // auto_scaling_profile = NAME scale up to ... on the lines that follow, each starting with "scale".
    while (g.names.front() == "auto_scaling_profile" && lexer_.next_line_starts_with("scale")) {
      const Token more = lexer_.raw_value_next_line();
      g.value.text += " " + more.text;
      g.value.end = more.end;
    }
    if (g.value.text.empty() && g.value.kind != Tok::String)
      error(g.value.begin, "global parameter '" + g.names.front() + "' has no value");
    advance();
    if (cur_.kind != Tok::End && line_of(cur_.begin) == line_of(g.value.begin) &&
        g.value.kind == Tok::String && cur_.kind != Tok::Semi)
      error(cur_.begin, "unexpected " + describe(cur_) + " after the value of '" + g.names.front() + "'");
    accept(Tok::Semi);
    script.globals.push_back(std::move(g));
  }

  void load_module(Script& script) {
    LoadModule m;
    m.offset = cur_.begin;
    advance();
    if (cur_.kind != Tok::String) {
      error(cur_.begin,
            "expected the module's file name in quotes after loadmodule, found " + describe(cur_));
      advance();
      return;
    }
    m.path = cur_.text;
    advance();
    accept(Tok::Semi);
    script.modules.push_back(std::move(m));
  }

  void mod_param(Script& script) {
    ModParam p;
    p.offset = cur_.begin;
    advance();
    bool ok = expect(Tok::LParen, "after modparam");
    if (ok && cur_.kind == Tok::String) {
      p.module = cur_.text;
      advance();
    } else if (ok) {
      error(cur_.begin, "expected the module name in quotes, found " + describe(cur_));
      ok = false;
    }
    ok = ok && expect(Tok::Comma, "after the module name");
    if (ok && cur_.kind == Tok::String) {
      p.param = cur_.text;
      advance();
    } else if (ok) {
      error(cur_.begin, "expected the parameter name in quotes, found " + describe(cur_));
      ok = false;
    }
    ok = ok && expect(Tok::Comma, "after the parameter name");
    if (ok) {
      p.value = expression();
      // yes/no, on/off, true/false, enable/disable written bare are 1 and 0 (OpenSIPS 2.x).
      if (p.value && p.value->kind == ExprKind::Name) {
        static constexpr std::string_view kYes[] = {"yes", "on", "true", "enable"};
        static constexpr std::string_view kNo[] = {"no", "off", "false", "disable"};
        std::string word = p.value->text;
        for (char& c : word) c = char(std::tolower(uint8_t(c)));
        for (std::string_view w : kYes)
          if (word == w) p.value->kind = ExprKind::Int, p.value->number = 1;
        for (std::string_view w : kNo)
          if (word == w) p.value->kind = ExprKind::Int, p.value->number = 0;
      }
      if (p.value && p.value->kind != ExprKind::Int && p.value->kind != ExprKind::String &&
          !(p.value->kind == ExprKind::Unary && p.value->op == Tok::Minus)) {
        error(p.value->offset, "a modparam value is a number, a quoted string, or yes/no");
      }
    }
    ok = ok && expect(Tok::RParen, "to close modparam");
    if (!ok) {
      while (cur_.kind != Tok::End && !at_top_level_start()) advance();
      return;
    }
    accept(Tok::Semi);
    script.modparams.push_back(std::move(p));
  }

  void route_block(Script& script, RouteKind kind) {
    Route r;
    r.kind = kind;
    r.offset = cur_.begin;
    const std::string word = cur_.text;
    advance();
    if (accept(Tok::LBracket)) {
      if (cur_.kind == Tok::Ident || cur_.kind == Tok::String) {
        r.name = cur_.text;
      } else if (cur_.kind == Tok::Int) {
        r.name = std::to_string(cur_.number);
      } else {
        error(cur_.begin, "expected a route name or number inside [ ], found " + describe(cur_));
      }
      advance();
      if (kind == RouteKind::Timer) {  // timer_route[name, seconds]
        if (expect(Tok::Comma, "and the interval in seconds after the timer route's name") &&
            cur_.kind == Tok::Int) {
          r.interval = uint32_t(std::min<int64_t>(cur_.number, UINT32_MAX));
          advance();
        } else if (cur_.kind != Tok::RBracket) {
          error(cur_.begin, "expected the timer route's interval in seconds, found " + describe(cur_));
          advance();
        }
      } else if (kind == RouteKind::Event && accept(Tok::Comma)) {  // 2.x: event_route[E_NAME, sync|async]
        if (cur_.kind == Tok::Ident) {
          r.mode = cur_.text;
          advance();
        } else {
          error(cur_.begin, "expected sync or async after the event's name, found " + describe(cur_));
        }
      }
      expect(Tok::RBracket, "after the route name");
    } else if (kind == RouteKind::Timer || kind == RouteKind::Event) {
      error(cur_.begin,
            word + " needs a name in [ ]" +
                (kind == RouteKind::Timer ? ": timer_route[name, seconds]" : ": event_route[E_NAME]"));
    }
    if (cur_.kind != Tok::LBrace) {
      error(cur_.begin, "expected '{' to open " + word + (r.name.empty() ? "" : "[" + r.name + "]") +
                            ", found " + describe(cur_));
      while (cur_.kind != Tok::End && !at_top_level_start()) advance();
      return;
    }
    r.end = block(r.body, 0);
    last_route_close_ = r.end;
    script.routes.push_back(std::move(r));
  }

  // ---- statements ----
  // '{' stmt* '}'; returns the offset of the closing brace.
  uint32_t block(StmtList& out, int depth) {
    const uint32_t open = cur_.begin;
    advance();
    while (cur_.kind != Tok::RBrace && cur_.kind != Tok::End) {
      if (StmtPtr s = statement(depth + 1)) out.push_back(std::move(s));
    }
    const uint32_t close = cur_.begin;
    if (cur_.kind == Tok::End) {
      error(open, "this '{' is never closed");
      return close;
    }
    advance();
    return close;
  }

  void sync_statement() {
    int depth = 0;
    while (cur_.kind != Tok::End) {
      if (cur_.kind == Tok::LBrace) ++depth;
      if (cur_.kind == Tok::RBrace) {
        if (depth == 0) return;
        --depth;
      }
      if (cur_.kind == Tok::Semi && depth == 0) {
        advance();
        return;
      }
      advance();
    }
  }

  // A statement, or a braced block, as the body of if/else/while.
  void body(StmtList& out, int depth) {
    if (cur_.kind == Tok::LBrace) {
      block(out, depth);
      accept(Tok::Semi);  // `if (...) { ... };` is common in the tutorial's generation of scripts
      return;
    }
    if (StmtPtr s = statement(depth + 1)) out.push_back(std::move(s));
  }

  StmtPtr make_stmt(StmtKind kind, uint32_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->offset = offset;
    return s;
  }

  // Every simple statement ends with ';' (as in OpenSIPS); a missing one is reported where it was due.
  // A missing ';' at the end of a line is reported right after the statement, and parsing goes on with
  // the next line as if it were there.
  bool end_statement(std::string_view what) {
    if (accept(Tok::Semi)) return true;
    if (cur_.kind == Tok::RBrace || line_of(cur_.begin) != line_of(prev_end_)) {
      error(prev_end_, "expected ';' after " + std::string(what));
      return false;
    }
    error(cur_.begin, "expected ';' after " + std::string(what) + ", found " + describe(cur_));
    sync_statement();
    return false;
  }

  StmtPtr statement(int depth) {
    if (depth > kMaxDepth) {
      error(cur_.begin, "blocks nested too deeply");
      sync_statement();
      return nullptr;
    }
    const uint32_t at = cur_.begin;
    if (accept(Tok::Semi)) return nullptr;
    if (cur_.kind == Tok::LBrace) {
      auto s = make_stmt(StmtKind::Block, at);
      block(s->body, depth);
      return s;
    }
    if (cur_.kind == Tok::Ident) {
      const std::string& w = cur_.text;
      if (w == "if") return if_statement(depth);
      if (w == "switch") return switch_statement(depth);
      if (w == "while") return while_statement(depth);
      if (w == "return") return return_statement();
      if (w == "break" || w == "exit" || w == "drop") {
        const StmtKind k = w == "break" ? StmtKind::Break : w == "exit" ? StmtKind::Exit : StmtKind::Drop;
        const std::string word = w;
        advance();
        if (accept(Tok::LParen)) expect(Tok::RParen, "after " + word + "(");
        end_statement(word);
        return make_stmt(k, at);
      }
      if (w == "else") {
        error(at, "'else' without a matching 'if'");
        advance();
        return nullptr;
      }
      if (w == "case" || w == "default") {
        error(at, "'" + w + "' outside a switch");
        sync_statement();
        return nullptr;
      }
    }
    if (cur_.kind == Tok::Ident && cur_.text == "for") return for_statement(depth);
    ExprPtr e = expression();
    if (!e) {
      sync_statement();
      return nullptr;
    }
    if (is_assignment(cur_.kind)) {
      if (e->kind != ExprKind::PVar) error(e->offset, "only a pseudo-variable can be assigned to");
      auto s = make_stmt(StmtKind::Assign, at);
      s->op = cur_.kind;
      advance();
      s->target = std::move(e);
      s->expr = expression();
      if (!s->expr) {
        sync_statement();
        return nullptr;
      }
      end_statement("the assignment");
      return s;
    }
    auto s = make_stmt(StmtKind::Expr, at);
    s->expr = std::move(e);
    end_statement(s->expr->kind == ExprKind::Call ? "the call to " + s->expr->text + "()" : "the statement");
    return s;
  }

  ExprPtr condition(std::string_view word) {
    if (!expect(Tok::LParen, "after '" + std::string(word) + "'")) return nullptr;
    ExprPtr e = expression();
    if (!e) return nullptr;
    // A missing ')' right before the body's '{' is reported, and the body is parsed anyway.
    if (!expect(Tok::RParen, "to close the " + std::string(word) + " condition") && cur_.kind != Tok::LBrace)
      return nullptr;
    return e;
  }

  StmtPtr if_statement(int depth) {
    auto s = make_stmt(StmtKind::If, cur_.begin);
    advance();
    s->expr = condition("if");
    if (!s->expr) {
      sync_statement();
      return nullptr;
    }
    body(s->body, depth);
    if (cur_.kind == Tok::Ident && cur_.text == "else") {
      advance();
      body(s->else_body, depth);
    }
    return s;
  }

  StmtPtr while_statement(int depth) {
    auto s = make_stmt(StmtKind::While, cur_.begin);
    advance();
    s->expr = condition("while");
    if (!s->expr) {
      sync_statement();
      return nullptr;
    }
    body(s->body, depth);
    return s;
  }

  // for ($var(x) in $(avp(y)[*])) body
  StmtPtr for_statement(int depth) {
    auto s = make_stmt(StmtKind::ForEach, cur_.begin);
    advance();
    bool ok = expect(Tok::LParen, "after 'for'");
    if (ok) {
      s->target = unary();
      if (s->target && s->target->kind != ExprKind::PVar) {
        error(s->target->offset, "a for loop's variable is a pseudo-variable, e.g. for ($var(x) in ...)");
        ok = false;
      }
      ok = ok && s->target;
    }
    if (ok && !(cur_.kind == Tok::Ident && cur_.text == "in")) {
      error(cur_.begin, "expected 'in' after the loop's variable, found " + describe(cur_));
      ok = false;
    }
    if (ok) {
      advance();
      s->expr = expression();
      ok = s->expr && (expect(Tok::RParen, "to close the for loop's head") || cur_.kind == Tok::LBrace);
    }
    if (!ok) {
      sync_statement();
      return nullptr;
    }
    body(s->body, depth);
    return s;
  }

  StmtPtr switch_statement(int depth) {
    auto s = make_stmt(StmtKind::Switch, cur_.begin);
    advance();
    s->expr = condition("switch");
    if (!s->expr || cur_.kind != Tok::LBrace) {
      if (s->expr) error(cur_.begin, "expected '{' to open the switch body, found " + describe(cur_));
      sync_statement();
      return nullptr;
    }
    const uint32_t open = cur_.begin;
    advance();
    while (cur_.kind != Tok::RBrace && cur_.kind != Tok::End) {
      Case c;
      c.offset = cur_.begin;
      if (cur_.kind == Tok::Ident && cur_.text == "case") {
        advance();
        c.value = expression();
      } else if (cur_.kind == Tok::Ident && cur_.text == "default") {
        advance();
        c.is_default = true;
      } else if (s->cases.empty()) {
        error(cur_.begin, "expected 'case' or 'default' in the switch, found " + describe(cur_));
        sync_statement();
        continue;
      }
      if (c.value || c.is_default) {
        if (!expect(Tok::Colon, "after the case label")) sync_statement();
        while (cur_.kind != Tok::RBrace && cur_.kind != Tok::End &&
               !(cur_.kind == Tok::Ident && (cur_.text == "case" || cur_.text == "default"))) {
          if (StmtPtr st = statement(depth + 1)) c.body.push_back(std::move(st));
        }
        s->cases.push_back(std::move(c));
      } else {
        // Statements after a case label that was already closed belong to the last case.
        if (StmtPtr st = statement(depth + 1)) s->cases.back().body.push_back(std::move(st));
      }
    }
    if (cur_.kind == Tok::End) {
      error(open, "this '{' of the switch is never closed");
      return s;
    }
    advance();
    accept(Tok::Semi);
    return s;
  }

  StmtPtr return_statement() {
    auto s = make_stmt(StmtKind::Return, cur_.begin);
    advance();
    if (cur_.kind != Tok::Semi) s->expr = expression();
    end_statement("return");
    return s;
  }

  // ---- expressions ----
  ExprPtr make_expr(ExprKind kind, uint32_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  ExprPtr expression() { return binary(1); }

  ExprPtr binary(int min_prec) {
    ExprPtr left = unary();
    while (left) {
      const int prec = binary_precedence(cur_.kind);
      if (prec == 0 || prec < min_prec) break;
      auto e = make_expr(ExprKind::Binary, left->offset);
      e->op = cur_.kind;
      advance();
      ExprPtr right = binary(prec + 1);
      if (!right) return nullptr;
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(right));
      left = std::move(e);
    }
    return left;
  }

  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(++d) {}
    ~DepthGuard() { --depth; }
  };

  ExprPtr unary() {
    const DepthGuard guard(expr_depth_);
    if (expr_depth_ > kMaxDepth) {
      error(cur_.begin, "expression nested too deeply");
      return nullptr;
    }
    if (cur_.kind == Tok::Not || cur_.kind == Tok::Minus || cur_.kind == Tok::BitNot) {
      auto e = make_expr(ExprKind::Unary, cur_.begin);
      e->op = cur_.kind;
      advance();
      ExprPtr operand = unary();
      if (!operand) return nullptr;
      e->args.push_back(std::move(operand));
      return e;
    }
    return primary();
  }

  void transforms(Expr& e) {
    while (cur_.kind == Tok::Transform) {
      e.transforms.push_back(cur_.text);
      advance();
    }
  }

  ExprPtr primary() {
    const Token t = cur_;
    switch (t.kind) {
      case Tok::Int: {
        auto e = make_expr(ExprKind::Int, t.begin);
        e->number = t.number;
        advance();
        return e;
      }
      case Tok::String:
      case Tok::PVar: {
        auto e = make_expr(t.kind == Tok::String ? ExprKind::String : ExprKind::PVar, t.begin);
        e->text = t.text;
        advance();
        // "a" "b": adjacent literals are one string (OpenSIPS folds them in xlog; here anywhere).
        while (e->kind == ExprKind::String && cur_.kind == Tok::String) {
          e->text += cur_.text;
          advance();
        }
        transforms(*e);
        return e;
      }
      case Tok::LBracket: {  // [ expr ]: arithmetic inside a condition
        advance();
        ExprPtr e = binary(1);
        if (!e || !expect(Tok::RBracket, "to close '['")) return nullptr;
        e->bracketed = true;
        return e;
      }
      case Tok::Ident: {
        advance();
        // msg:len, the 1.x keyword for the message's length.
        if (t.text == "msg" && cur_.kind == Tok::Colon && !cur_.space_before) {
          advance();
          if (cur_.kind == Tok::Ident && cur_.text == "len" && !cur_.space_before) {
            advance();
            auto e = make_expr(ExprKind::Name, t.begin);
            e->text = "msg:len";
            return e;
          }
          error(cur_.begin, "expected 'len' after 'msg:'");
          return nullptr;
        }
        if (cur_.kind != Tok::LParen) {
          auto e = make_expr(ExprKind::Name, t.begin);
          e->text = t.text;
          return e;
        }
        auto e = make_expr(ExprKind::Call, t.begin);
        e->text = t.text;
        e->has_parens = true;
        advance();
        if (!accept(Tok::RParen)) {
          // An argument may be left empty, f(a, , b) or f(a, ): it is NULL, as in OpenSIPS 3.x.
          do {
            if (cur_.kind == Tok::Comma || cur_.kind == Tok::RParen) {
              e->args.push_back(make_expr(ExprKind::Null, cur_.begin));
              continue;
            }
            ExprPtr arg = binary(1);
            if (!arg) return nullptr;
            e->args.push_back(std::move(arg));
          } while (accept(Tok::Comma));
          if (!expect(Tok::RParen, "to close the arguments of " + t.text + "()")) return nullptr;
        }
        return e;
      }
      case Tok::LParen: {
        advance();
        ExprPtr e = binary(1);
        if (!e || !expect(Tok::RParen, "to close '('")) return nullptr;
        return e;
      }
      default:
        error(t.begin, "expected an expression, found " + describe(t));
        return nullptr;
    }
  }

  const SourceFile& file_;
  Diagnostics& diags_;
  Lexer lexer_;
  Token cur_;
  uint32_t prev_end_ = 0;  // end of the last token consumed
  int expr_depth_ = 0;
  uint32_t last_route_close_ = UINT32_MAX;
};

}  // namespace

// OpenSIPS's precedence (cfg.y, the same in 1.x, 2.x and 3.x), lowest first: `||` and `&&` together,
// the comparisons, the bitwise operators, then all of `+ - * / %` on one level, left to right — so
// `a || b && c` is `(a || b) && c` and `1 + 2 * 3` is 9, as OpenSIPS computes them. (Its grammar keeps a
// comparison whole, PV op value, so comparisons bind tighter than && and || in practice.)
int binary_precedence(Tok t) {
  switch (t) {
    case Tok::OrOr:
    case Tok::AndAnd:
      return 1;
    case Tok::Eq:
    case Tok::Ne:
    case Tok::Lt:
    case Tok::Gt:
    case Tok::Le:
    case Tok::Ge:
    case Tok::Match:
    case Tok::NoMatch:
      return 2;
    case Tok::BitOr:
    case Tok::BitXor:
    case Tok::BitAnd:
    case Tok::ShiftLeft:
    case Tok::ShiftRight:
      return 3;
    case Tok::Plus:
    case Tok::Minus:
    case Tok::Star:
    case Tok::Slash:
    case Tok::Percent:
      return 4;
    default:
      return 0;
  }
}

std::string_view to_string(RouteKind k) {
  switch (k) {
    case RouteKind::Request:
      return "route";
    case RouteKind::Reply:
      return "onreply_route";
    case RouteKind::Failure:
      return "failure_route";
    case RouteKind::Branch:
      return "branch_route";
    case RouteKind::Local:
      return "local_route";
    case RouteKind::Error:
      return "error_route";
    case RouteKind::Startup:
      return "startup_route";
    case RouteKind::Timer:
      return "timer_route";
    case RouteKind::Event:
      return "event_route";
  }
  return "?";
}

Script parse_script(const SourceFile& file, Diagnostics& diags) { return Parser(file, diags).run(); }

PvarRef split_pvar(std::string_view text) {
  PvarRef r;
  if (text.starts_with("$(") && text.ends_with(")")) {
    text = text.substr(2, text.size() - 3);
  } else if (text.starts_with("$")) {
    text.remove_prefix(1);
  }
  size_t i = 0;
  while (i < text.size() && (std::isalnum(uint8_t(text[i])) || text[i] == '_' || text[i] == '.')) ++i;
  r.name = std::string(text.substr(0, i));
  if (i < text.size() && text[i] == '(') {
    int depth = 0;
    size_t close = i;
    for (; close < text.size(); ++close) {
      if (text[close] == '(') ++depth;
      if (text[close] == ')' && --depth == 0) break;
    }
    r.has_arg = true;
    r.arg = std::string(text.substr(i + 1, close - i - 1));
  }
  return r;
}

}  // namespace sipd::config
