#include "control/tls/session.h"

#include "control/tls/generation.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>

namespace sipd::tls {

namespace {

std::string text(Endpoint e) {
  char buf[INET_ADDRSTRLEN] = "?";
  const in_addr a{htonl(e.ip)};
  (void)::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(e.port);
}

// The memory transport: a BIO whose reads take from Session::in_ and whose writes append to out_.
BIO_METHOD* memory_method(int (*write)(BIO*, const char*, int), int (*read)(BIO*, char*, int),
                          long (*ctrl)(BIO*, int, long, void*)) {
  static BIO_METHOD* method = [&] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sipd memory");
    BIO_meth_set_write(m, write);
    BIO_meth_set_read(m, read);
    BIO_meth_set_ctrl(m, ctrl);
    BIO_meth_set_create(m, [](BIO* b) { return BIO_set_init(b, 1), 1; });
    return m;
  }();
  return method;
}

}  // namespace

Session::Session(Context& context, std::shared_ptr<const Context::Generation> generation, SSL* ssl, int fd,
                 bool server, Endpoint local, Endpoint peer)
    : context_(context),
      generation_(std::move(generation)),
      ssl_(ssl),
      local_(local),
      peer_(peer),
      server_(server) {
  SSL_set_ex_data(ssl_, Context::ex_index(), this);
  if (fd == Context::kMemory) {
    BIO* bio = memory_bio(this);
    SSL_set_bio(ssl_, bio, bio);  // one BIO both ways: SSL takes a single reference for both
  } else {
    (void)SSL_set_fd(ssl_, fd);
  }
  if (server)
    SSL_set_accept_state(ssl_);
  else
    SSL_set_connect_state(ssl_);
}

Session::~Session() { SSL_free(ssl_); }

BIO* Session::memory_bio(Session* self) {
  BIO* bio = BIO_new(memory_method(&Session::bio_write, &Session::bio_read, &Session::bio_ctrl));
  BIO_set_data(bio, self);
  return bio;
}

int Session::bio_write(BIO* bio, const char* data, int n) {
  auto* s = static_cast<Session*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  s->out_.append(data, size_t(n));
  return n;
}

int Session::bio_read(BIO* bio, char* data, int n) {
  auto* s = static_cast<Session*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const size_t left = s->in_.size() - s->in_pos_;
  if (left == 0) {
    if (s->eof_) return 0;
    BIO_set_retry_read(bio);
    return -1;
  }
  const size_t take = std::min(left, size_t(n));
  std::memcpy(data, s->in_.data() + s->in_pos_, take);
  s->in_pos_ += take;
  if (s->in_pos_ == s->in_.size()) {
    std::string().swap(s->in_);  // drained: an idle session keeps no buffer
    s->in_pos_ = 0;
  }
  return int(take);
}

long Session::bio_ctrl(BIO* bio, int cmd, long, void*) {
  auto* s = static_cast<Session*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return long(s->in_.size() - s->in_pos_);
    case BIO_CTRL_WPENDING:
      return 0;
    case BIO_CTRL_EOF:
      return s->eof_ && s->in_pos_ == s->in_.size();
    default:
      return 0;
  }
}

void Session::feed(std::string_view ciphertext) { in_.append(ciphertext); }

void Session::consume_output(size_t n) {
  out_.erase(0, std::min(n, out_.size()));
  if (out_.empty()) std::string().swap(out_);
}

const std::string& Session::domain() const {
  const TlsSettings& s = generation_->settings;
  return (server_ ? s.servers : s.clients)[domain_].name;
}

bool Session::has_buffered_input() const { return SSL_has_pending(ssl_) == 1; }
bool Session::resumed() const { return SSL_session_reused(ssl_) == 1; }
bool Session::peer_verified() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  return cert && SSL_get_verify_result(ssl_) == X509_V_OK;
}
std::string Session::version() const { return SSL_get_version(ssl_); }
std::string Session::cipher() const { return SSL_get_cipher_name(ssl_); }

std::string Session::peer_common_name() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  char cn[256] = "";
  if (cert) (void)X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  return cn;
}

IoResult Session::handshake() {
  if (established_) return {Status::Ok, 0};
  if (failed_) return {Status::Error, 0};
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    finish_handshake();
    return {Status::Ok, 0};
  }
  return result(ret, true);
}

void Session::finish_handshake() {
  established_ = true;
  ++context_.counters_.handshakes;
  if (resumed()) ++context_.counters_.resumed;
}

IoResult Session::read(std::span<char> into) {
  if (failed_) return {Status::Error, 0};
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int ret = SSL_read_ex(ssl_, into.data(), into.size(), &n);
  if (!established_ && SSL_is_init_finished(ssl_)) finish_handshake();
  if (ret == 1) return {Status::Ok, n};
  return result(ret, !established_);
}

IoResult Session::write(std::string_view bytes) {
  if (failed_) return {Status::Error, 0};
  if (bytes.empty()) return {Status::Ok, 0};
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int ret = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n);
  if (!established_ && SSL_is_init_finished(ssl_)) finish_handshake();
  if (ret == 1) return {Status::Ok, n};
  return result(ret, !established_);
}

void Session::shutdown() {
  if (shut_ || failed_ || !established_) return;
  shut_ = true;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

IoResult Session::result(int ret, bool handshaking) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return {Status::WantRead, 0};
    case SSL_ERROR_WANT_WRITE:
      return {Status::WantWrite, 0};
    case SSL_ERROR_ZERO_RETURN:
      return {Status::Closed, 0};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0 && !handshaking) return {Status::Closed, 0};  // EOF without close_notify
      [[fallthrough]];
    default:
      fail(handshaking);
      return {Status::Error, 0};
  }
}

// One line: who, which domain, and OpenSSL's reason with the certificate check's verdict when it failed.
void Session::fail(bool handshaking) {
  failed_ = true;
  std::string why = reason_;
  if (why.empty()) {
    const unsigned long e = ERR_peek_last_error();
    const char* r = e ? ERR_reason_error_string(e) : nullptr;
    if (r)
      why = r;
    else if (e)
      why = "OpenSSL error " + std::to_string(e);
    else if (errno != 0 && errno != EAGAIN)
      why = std::strerror(errno);
    else
      why = "connection closed by the peer";
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) why += std::string(": ") + X509_verify_cert_error_string(verify);
  }
  ERR_clear_error();
  error_ = std::string("tls: ") + (handshaking ? "handshake" : "connection") + " with " + text(peer_) + " (" +
           (server_ ? "server" : "client") + " domain " + domain() + ") failed: " + why;
  if (handshaking) ++context_.counters_.handshake_failed;
  context_.log(error_);
}

}  // namespace sipd::tls
