// One TLS session (issue 13): OpenSSL's SSL over a non-blocking socket the caller owns, or over two
// memory buffers (tests, and anything that moves the ciphertext itself), with calls shaped for a
// level-triggered epoll loop. Nothing blocks: each call does what the socket allows now and says what it
// waits for. The calling pattern, per readiness event, is
//     handshake() until Ok (WantRead: wait for EPOLLIN, WantWrite: for EPOLLOUT, Error: close);
//     read(span) until WantRead — or until the read budget is spent, and then, since decrypted bytes
//     OpenSSL holds are invisible to epoll, again next turn while has_buffered_input();
//     write(bytes): what it took; on WantWrite, call it again with the same bytes once writable.
// read() and write() finish a handshake themselves if it is not over yet. A failed handshake logs one line
// naming the peer, the domain and OpenSSL's reason ("certificate verify failed: unable to get local issuer
// certificate"); error() keeps it.
//
// Memory: SSL_MODE_RELEASE_BUFFERS and SSL_OP_NO_COMPRESSION, so an idle session holds no record buffers
// (about 17 KB each way while a record is in flight); what stays is the SSL object, its session and the
// peer's certificate: tests/tls/memory_test.cpp measured about 18 KB with a verified client certificate
// and 14 KB without (OpenSSL 3.0, TLS 1.3). Memory-buffer sessions free their buffers once drained too.
//
// Who calls: sipd-control's connection table, on its one thread. Made by tls::Context::accept() and
// connect(); the Context must outlive it. The socket is not closed here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "control/tls/context.h"

struct bio_st;

namespace sipd::tls {

enum class Status : uint8_t {
  Ok,         // done: `bytes` moved (handshake(): the handshake is over)
  WantRead,   // wait until the socket is readable (memory: feed() more)
  WantWrite,  // wait until the socket is writable (memory: take output())
  Closed,     // the peer closed the session (close_notify or end of stream)
  Error,      // the session is unusable: close the connection (error() says why)
};

struct IoResult {
  Status status = Status::Ok;
  size_t bytes = 0;
};

class Session {
 public:
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  IoResult handshake();
  IoResult read(std::span<char> into);
  IoResult write(std::string_view bytes);
  // Sends close_notify (once, without waiting for the peer's): call before closing the socket.
  void shutdown();

  bool established() const { return established_; }
  // Decrypted bytes are waiting inside OpenSSL: read() again even though the socket is not readable.
  bool has_buffered_input() const;

  // Memory buffers (fd was Context::kMemory): ciphertext in from the peer, and out toward it.
  void feed(std::string_view ciphertext);
  void feed_eof() { eof_ = true; }
  std::string_view output() const { return out_; }
  size_t pending_output() const { return out_.size(); }
  void consume_output(size_t n);

  bool server() const { return server_; }
  Endpoint local() const { return local_; }
  Endpoint peer() const { return peer_; }
  const std::string& domain() const;  // the TLS domain's name (after SNI, the one SNI picked)
  bool resumed() const;
  bool peer_verified() const;   // a peer certificate was presented and verified
  std::string version() const;  // "TLSv1.3"
  std::string cipher() const;
  std::string peer_common_name() const;  // the CN of the peer's certificate, empty without one
  const std::string& error() const { return error_; }

 private:
  friend class Context;
  Session(Context& context, std::shared_ptr<const Context::Generation> generation, ssl_st* ssl, int fd,
          bool server, Endpoint local, Endpoint peer);
  IoResult result(int ret, bool handshaking);
  void fail(bool handshaking);
  void finish_handshake();
  static bio_st* memory_bio(Session* self);
  static int bio_write(bio_st* bio, const char* data, int n);
  static int bio_read(bio_st* bio, char* data, int n);
  static long bio_ctrl(bio_st* bio, int cmd, long num, void* ptr);

  Context& context_;
  std::shared_ptr<const Context::Generation> generation_;  // the contexts and domains this session uses
  ssl_st* ssl_ = nullptr;
  Endpoint local_, peer_;
  size_t domain_ = 0;      // index into the generation's servers or clients
  std::string cache_key_;  // client sessions: where Context keeps this peer's newest session
  std::string reason_;     // why the client-hello callback refused the client
  std::string error_;
  std::string in_, out_;  // memory buffers
  size_t in_pos_ = 0;
  bool server_ = false, established_ = false, eof_ = false, failed_ = false, shut_ = false;
};

}  // namespace sipd::tls
