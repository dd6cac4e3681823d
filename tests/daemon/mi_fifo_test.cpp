// The MI FIFO as OpenSIPS's clients use it: the client makes its reply FIFO, writes `:NAME:{json}` into the
// server's FIFO in one write, and reads the reply until the server closes it. An empty name and a
// notification get no reply; requests back to back are each answered; a client that never opens its reply
// FIFO does not hold anything up.
#include "control/mi/mi_fifo.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace sipd::control {
namespace {

struct Rig {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sipd-fifo-" + std::to_string(::getpid()));
  CommandTable table;
  MiFifo fifo{table};
  MiFifoSettings settings;

  Rig() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    settings.path = (dir / "opensips_fifo").string();
    settings.reply_dir = dir.string() + "/";
    settings.mode = 0660;
    std::string error;
    EXPECT_TRUE(fifo.open(settings, error)) << error;
  }
  ~Rig() {
    fifo.close();
    std::filesystem::remove_all(dir);
  }
  void send(const std::string& bytes) {
    const int fd = ::open(settings.path.c_str(), O_WRONLY | O_NONBLOCK);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), ssize_t(bytes.size()));
    ::close(fd);
  }
  // Makes the reply FIFO and opens it to read (as the client does before it writes its request).
  int reply_fifo(const std::string& name) {
    const std::string path = settings.reply_dir + name;
    EXPECT_EQ(::mkfifo(path.c_str(), 0666), 0);
    return ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  }
  // What the server wrote into `fd` until it closed it, serving meanwhile; "(open)" when it never closed.
  std::string read_reply(int fd) {
    std::string out;
    for (int turn = 0; turn < 200; ++turn) {
      fifo.serve();
      char buf[4096];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) out.append(buf, size_t(n));
      if (n == 0 && !out.empty()) {
        ::close(fd);
        return out;
      }
      ::usleep(1000);
    }
    ::close(fd);
    return out + "(open)";
  }
};

TEST(mi_fifo, AnswersAsOpensipsClientsExpect) {
  Rig r;
  struct stat st {};
  ASSERT_EQ(::stat(r.settings.path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  // opensips-cli's bytes: Python's json.dumps spacing, a string id, params [] for none.
  const int fd = r.reply_fifo("opensips_fifo_reply_1234");
  r.send(R"(:opensips_fifo_reply_1234:{"jsonrpc": "2.0", "id": "9", "method": "which", "params": []})");
  EXPECT_EQ(r.read_reply(fd), R"({"jsonrpc":"2.0","result":["help","which"],"id":"9"})");
  // Two requests in one write, each answered into its own FIFO; an unknown method is a JSON-RPC error.
  const int a = r.reply_fifo("reply_a"), b = r.reply_fifo("reply_b");
  r.send(
      ":reply_a:{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"help\"}\n:reply_b:{\"jsonrpc\":\"2.0\",\"id\":2,"
      "\"method\":\"nosuch\"}");
  EXPECT_EQ(r.read_reply(a),
            R"({"jsonrpc":"2.0","result":"Usage: help mi_cmd - returns information about 'mi_cmd'","id":1})");
  EXPECT_EQ(r.read_reply(b),
            R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2})");
}

TEST(mi_fifo, NoReplyWantedAndClientsThatNeverRead) {
  Rig r;
  // An empty name, and a notification: answered to nobody.
  const int fd = r.reply_fifo("quiet");
  r.send(R"(::{"jsonrpc":"2.0","id":1,"method":"which"}:quiet:{"jsonrpc":"2.0","method":"which"})");
  EXPECT_EQ(r.read_reply(fd), "(open)");
  // A reply FIFO that never appears is given up on; a name with a path in it is refused; the next client
  // is answered.
  r.send(
      R"(:nobody:{"jsonrpc":"2.0","id":1,"method":"which"}:../x:{"jsonrpc":"2.0","id":1,"method":"which"})");
  for (int i = 0; i < MiFifo::kReplyTries + 5; ++i) {
    r.fifo.serve();
    ::usleep(21000);
  }
  EXPECT_FALSE(std::filesystem::exists(r.dir / "nobody"));
  const int next = r.reply_fifo("next");
  r.send(R"(:next:{"jsonrpc":"2.0","id":3,"method":"which"})");
  EXPECT_EQ(r.read_reply(next), R"({"jsonrpc":"2.0","result":["help","which"],"id":3})");
}

}  // namespace
}  // namespace sipd::control

namespace sipd::control {
namespace {

// fifo_user/fifo_group give the FIFO to its owner (root runs the tests: a number it can give).
TEST(mi_fifo, OwnerFromTheModparams) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the FIFO away";
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sipd-fifo-owner-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  CommandTable table;
  MiFifo fifo(table);
  MiFifoSettings s;
  s.path = (dir / "f").string();
  s.user = "65534";
  s.group = "nosuchgroup-sipd";
  std::string error;
  EXPECT_FALSE(fifo.open(s, error));
  EXPECT_EQ(error, "mi_fifo: fifo_group nosuchgroup-sipd is no group here");
  s.group = "0";
  ASSERT_TRUE(fifo.open(s, error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(s.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 0u);
  fifo.close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sipd::control
