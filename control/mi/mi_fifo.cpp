#include "control/mi/mi_fifo.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace sipd::control {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

bool file_owner(const std::string& module, const std::string& user_param, const std::string& user,
                const std::string& group_param, const std::string& group, uid_t& uid, gid_t& gid,
                std::string& error) {
  uid = uid_t(-1);
  gid = gid_t(-1);
  const auto number = [](const std::string& s, unsigned long& out) {
    char* end = nullptr;
    out = std::strtoul(s.c_str(), &end, 10);
    return !s.empty() && end && *end == '\0';
  };
  unsigned long n = 0;
  if (!user.empty()) {
    if (number(user, n)) {
      uid = uid_t(n);
    } else if (const passwd* pw = ::getpwnam(user.c_str())) {
      uid = pw->pw_uid;
    } else {
      error = module + ": " + user_param + " " + user + " is no user here";
      return false;
    }
  }
  if (!group.empty()) {
    if (number(group, n)) {
      gid = gid_t(n);
    } else if (const ::group* gr = ::getgrnam(group.c_str())) {
      gid = gr->gr_gid;
    } else {
      error = module + ": " + group_param + " " + group + " is no group here";
      return false;
    }
  }
  return true;
}

MiFifoSettings mi_fifo_settings(const config::Program& program) {
  MiFifoSettings s;
  if (program.modparam_set("mi_fifo", "fifo_name"))
    s.path = std::string(program.modparam("mi_fifo", "fifo_name"));
  if (program.modparam_set("mi_fifo", "fifo_mode"))
    s.mode = mode_t(program.modparam_int("mi_fifo", "fifo_mode"));
  if (s.mode == 0) s.mode = 0600;  // as OpenSIPS: 0 means the owner's only
  if (program.modparam_set("mi_fifo", "reply_dir"))
    s.reply_dir = std::string(program.modparam("mi_fifo", "reply_dir"));
  if (program.modparam_set("mi_fifo", "fifo_user"))
    s.user = std::string(program.modparam("mi_fifo", "fifo_user"));
  if (program.modparam_set("mi_fifo", "fifo_group"))
    s.group = std::string(program.modparam("mi_fifo", "fifo_group"));
  return s;
}

bool MiFifo::open(const MiFifoSettings& settings, std::string& error) {
  close();
  settings_ = settings;
  ::unlink(settings.path.c_str());
  if (::mkfifo(settings.path.c_str(), settings.mode) != 0 ||
      ::chmod(settings.path.c_str(), settings.mode) != 0) {
    error = "mi_fifo: cannot make the FIFO " + settings.path + ": " + std::strerror(errno);
    return false;
  }
  if (!settings.user.empty() || !settings.group.empty()) {
    uid_t uid;
    gid_t gid;
    if (!file_owner("mi_fifo", "fifo_user", settings.user, "fifo_group", settings.group, uid, gid, error))
      return false;
    if (::chown(settings.path.c_str(), uid, gid) != 0) {
      error = "mi_fifo: cannot give " + settings.path + " to " + settings.user + ":" + settings.group + ": " +
              std::strerror(errno);
      return false;
    }
  }
  // Read and write: the FIFO never reads as ended when the last client closes it.
  fd_ = ::open(settings.path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    error = "mi_fifo: cannot open " + settings.path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void MiFifo::close() {
  for (Reply& r : replies_)
    if (r.fd >= 0) ::close(r.fd);
  replies_.clear();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(settings_.path.c_str());
  }
  in_.clear();
}

bool MiFifo::serve() {
  if (fd_ < 0) return false;
  bool did = write_replies();
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    in_.append(buf, size_t(n));
    did = true;
  }
  // Requests: `:NAME:` then one JSON value, back to back.
  for (;;) {
    size_t at = 0;
    while (at < in_.size() && blank(in_[at])) ++at;
    if (at == in_.size()) {
      in_.clear();
      break;
    }
    if (in_[at] != ':') {  // not a request: skip to the next one
      const size_t next = in_.find(':', at);
      in_.erase(0, next == std::string::npos ? in_.size() : next);
      continue;
    }
    const size_t colon = in_.find(':', at + 1);
    if (colon == std::string::npos) {
      if (in_.size() > kMaxRequest) in_.clear();
      break;
    }
    RequestFramer framer;
    const std::string_view rest = std::string_view(in_).substr(colon + 1);
    const size_t end = framer.scan(rest, 32);
    if (end == RequestFramer::kNotYet) {
      if (in_.size() > kMaxRequest) in_.clear();  // never ends: dropped
      break;
    }
    request(std::string_view(in_).substr(at + 1, colon - at - 1), rest.substr(0, end));
    in_.erase(0, colon + 1 + end);
  }
  if (write_replies()) did = true;
  return did;
}

void MiFifo::request(std::string_view name, std::string_view json) {
  // Whether anybody waits for a reply: `::{...}` asks for none, a notification (no id) is answered by
  // nobody; an unparsable request is answered with its error. OpenSIPS takes the name under its reply_dir
  // only: no path of the client's own.
  Json parsed;
  std::string why;
  const bool notification = Json::parse(json, parsed, why) && parsed.is_object() && !parsed.find("id");
  const bool wanted = !name.empty() && !notification && name.find('/') == std::string_view::npos &&
                      name.find('.') == std::string_view::npos && name.find('\\') == std::string_view::npos &&
                      name.size() <= 128;
  const uint64_t id = next_id_++;
  std::weak_ptr<MiFifo*> self = self_;
  std::optional<std::string> answer = commands_.handle(json, [self, id](std::string text) {
    if (const std::shared_ptr<MiFifo*> fifo = self.lock()) (*fifo)->answer_later(id, std::move(text));
  });
  if (!wanted) return;
  Reply r;
  r.path = settings_.reply_dir + std::string(name);
  r.id = id;
  r.pending = !answer;
  if (answer) r.text = std::move(*answer);
  replies_.push_back(std::move(r));
}

void MiFifo::answer_later(uint64_t id, std::string text) {
  for (Reply& r : replies_) {
    if (r.id != id || !r.pending) continue;
    r.pending = false;
    r.text = std::move(text);
    r.next_ms = 0;
    (void)write_replies();
    return;
  }
}

bool MiFifo::write_replies() {
  bool did = false;
  const int64_t now = now_ms();
  for (size_t i = 0; i < replies_.size();) {
    Reply& r = replies_[i];
    if (r.pending) {  // its command has not answered yet
      ++i;
      continue;
    }
    bool done = false;
    if (r.fd < 0 && now >= r.next_ms) {
      // The client makes the FIFO and opens it to read; until then opening it to write fails (ENXIO).
      struct stat st {};
      if (::lstat(r.path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode) && st.st_nlink == 1)
        r.fd = ::open(r.path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (r.fd < 0) {
        r.next_ms = now + 20;
        done = ++r.tries >= kReplyTries;  // nobody reads it: given up
      }
    }
    if (r.fd >= 0) {
      while (r.written < r.text.size()) {
        const ssize_t n = ::write(r.fd, r.text.data() + r.written, r.text.size() - r.written);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          r.written = r.text.size();  // the client went away: nothing more to write
          break;
        }
        if (n <= 0) break;
        r.written += size_t(n);
        did = true;
      }
      if (r.written == r.text.size()) done = true;  // closing it is the end of the reply
    }
    if (done) {
      if (r.fd >= 0) ::close(r.fd);
      replies_.erase(replies_.begin() + long(i));
      did = true;
    } else {
      ++i;
    }
  }
  return did;
}

}  // namespace sipd::control
