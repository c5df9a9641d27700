#include "clients/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <utility>
#include <vector>

#include "config/secret.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

// Error replies are quoted into messages: keep them short and printable.
constexpr size_t kMaxQuotedReply = 200;

timeval ToTimeval(milliseconds budget) {
  // A zero timeval means "wait forever" to setsockopt(SO_RCVTIMEO): never pass one.
  auto ms = std::max<milliseconds::rep>(budget.count(), 1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxQuotedReply) + 3);
  for (char c : text.substr(0, kMaxQuotedReply)) {
    auto byte = static_cast<unsigned char>(c);
    out.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
  }
  if (text.size() > kMaxQuotedReply) out += "...";
  return out;
}

// The command name for messages: argv[0] upper-cased, never the arguments (AUTH carries the
// password, SET carries user-visible data).
std::string CommandName(std::span<const std::string_view> argv) {
  if (argv.empty()) return "(empty command)";
  std::string name = Printable(argv[0].substr(0, 32));
  for (char& c : name) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return name;
}

// hiredis 0.14 writes with write(2), so a peer that closed the connection raises SIGPIPE,
// whose default action kills the process. Block it on this thread around each call and
// swallow one that this call caused (the technique libpq uses), so the exporter survives
// whether or not its main() ignores SIGPIPE.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t previous_{};
  bool was_pending_ = false;
};

}  // namespace

std::string_view RedisTypeName(RedisType type) {
  switch (type) {
    case RedisType::kString:
      return "string";
    case RedisType::kArray:
      return "array";
    case RedisType::kInteger:
      return "integer";
    case RedisType::kNil:
      return "nil";
    case RedisType::kStatus:
      return "status";
    case RedisType::kError:
      return "error";
  }
  return "unknown";
}

RedisType RedisValue::type() const {
  switch (node_->type) {
    case REDIS_REPLY_STRING:
      return RedisType::kString;
    case REDIS_REPLY_ARRAY:
      return RedisType::kArray;
    case REDIS_REPLY_INTEGER:
      return RedisType::kInteger;
    case REDIS_REPLY_STATUS:
      return RedisType::kStatus;
    case REDIS_REPLY_ERROR:
      return RedisType::kError;
    default:
      return RedisType::kNil;
  }
}

std::string_view RedisValue::text() const {
  switch (node_->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return node_->str == nullptr ? std::string_view() : std::string_view(node_->str, node_->len);
    default:
      return {};
  }
}

long long RedisValue::integer() const {
  return node_->type == REDIS_REPLY_INTEGER ? node_->integer : 0;
}

size_t RedisValue::size() const { return node_->type == REDIS_REPLY_ARRAY ? node_->elements : 0; }

RedisValue RedisValue::operator[](size_t index) const { return RedisValue(node_->element[index]); }

RedisReply::RedisReply(redisReply* reply) : reply_(reply) {}

void RedisReply::Free::operator()(redisReply* reply) const { freeReplyObject(reply); }

std::string_view RedisErrorPrefix(std::string_view reply) {
  size_t end = reply.find_first_of(" \r\n");
  return reply.substr(0, std::min<size_t>(end, 32));
}

ErrorCause RedisErrorCause(std::string_view reply) {
  ErrorCause cause;
  cause.redis_error = std::string(RedisErrorPrefix(reply));
  return cause;
}

ErrorCode ClassifyRedisErrorReply(std::string_view command, std::string_view reply) {
  std::string_view prefix = RedisErrorPrefix(reply);
  if (prefix == "WRONGPASS" || prefix == "NOAUTH" || prefix == "NOPERM") return ErrorCode::kAuth;
  // Servers without ACLs answer a bad AUTH with a plain "ERR invalid password" (Redis < 6) or
  // "ERR AUTH <password> called without any password configured" (no requirepass).
  std::string upper;
  for (char c : command.substr(0, 8)) upper.push_back(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if (upper == "AUTH") return ErrorCode::kAuth;
  return ErrorCode::kQuery;
}

ErrorCode ClassifyRedisIoError(int hiredis_error, int saved_errno, std::string_view errstr) {
  switch (hiredis_error) {
    case REDIS_ERR_IO:
      if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT ||
          saved_errno == EINPROGRESS || errstr.find("timed out") != std::string_view::npos ||
          errstr.find("temporarily unavailable") != std::string_view::npos) {
        return ErrorCode::kTimeout;
      }
      return ErrorCode::kConnect;
    case REDIS_ERR_EOF:
      return ErrorCode::kConnect;
    case REDIS_ERR_PROTOCOL:
      return ErrorCode::kProtocol;
    case REDIS_ERR_OOM:
      return ErrorCode::kInternal;
    default:  // REDIS_ERR_OTHER: name resolution, socket creation
      return ErrorCode::kConnect;
  }
}

RedisClient::RedisClient(const RedisEndpoint& target, const Deadline& deadline)
    : describe_((target.name.empty() ? std::string("redis") : target.name) + " (" +
                target.Describe() + ")"),
      deadline_(deadline) {}

RedisClient::RedisClient(RedisClient&& other) noexcept
    : describe_(std::move(other.describe_)),
      deadline_(other.deadline_),
      context_(std::exchange(other.context_, nullptr)) {}

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    Close();
    describe_ = std::move(other.describe_);
    deadline_ = other.deadline_;
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

RedisClient::~RedisClient() { Close(); }

void RedisClient::Close() {
  if (context_ != nullptr) redisFree(std::exchange(context_, nullptr));
}

Error RedisClient::MakeFailure(ErrorCode code, std::string_view what, std::string_view detail,
                               ErrorCause cause) const {
  return MakeError(code,
                   RedactSecrets(describe_ + ": " + std::string(what) + ": " + std::string(detail)),
                   std::move(cause));
}

Error RedisClient::FailFromContext(std::string_view what, int saved_errno) {
  ErrorCode code = ClassifyRedisIoError(context_->err, saved_errno, context_->errstr);
  std::string detail = Printable(context_->errstr);
  ErrorCause cause;
  // hiredis sets errno-based errors as REDIS_ERR_IO; the others (EOF, protocol) are not a
  // failed system call even when errno happens to be set.
  if (context_->err == REDIS_ERR_IO) cause.system_errno = saved_errno;
  if (code == ErrorCode::kTimeout || (code == ErrorCode::kConnect && deadline_.Expired())) {
    // The socket timeout is the time left, so an I/O failure at the deadline is the deadline.
    code = ErrorCode::kTimeout;
    detail = "no answer before the probe deadline (" + detail + ")";
  } else if (context_->err == REDIS_ERR_EOF) {
    detail = "the server closed the connection";
  }
  Close();
  return MakeFailure(code, what, detail, std::move(cause));
}

Result<RedisClient> RedisClient::Connect(const RedisEndpoint& target, const Deadline& deadline) {
  RedisClient client(target, deadline);
  milliseconds budget = std::min(target.connect_timeout, deadline.Remaining());
  if (budget <= milliseconds(0)) {
    return client.MakeFailure(ErrorCode::kTimeout, "connect", "no time left before the deadline");
  }
  // Name resolution inside hiredis (getaddrinfo) is not bounded by this timeout; the TCP
  // handshake is.
  errno = 0;
  client.context_ = redisConnectWithTimeout(target.host.c_str(), target.port, ToTimeval(budget));
  int saved_errno = errno;
  if (client.context_ == nullptr) {
    return client.MakeFailure(ErrorCode::kInternal, "connect", "cannot allocate a redis context");
  }
  if (client.context_->err != 0) return client.FailFromContext("connect", saved_errno);

  if (!target.password.empty()) {
    const std::string& password = target.password.Reveal();
    auto reply = target.username.empty() ? client.Command({"AUTH", password})
                                         : client.Command({"AUTH", target.username, password});
    if (!reply) return reply.error();
    if (!reply->Is(RedisType::kStatus) || reply->text() != "OK") {
      return client.MakeFailure(
          ErrorCode::kProtocol, "AUTH",
          "unexpected " + std::string(RedisTypeName(reply->type())) + " reply instead of OK");
    }
  }
  return client;
}

Result<RedisReply> RedisClient::Command(std::span<const std::string_view> argv) {
  std::string name = CommandName(argv);
  if (argv.empty()) return MakeFailure(ErrorCode::kInternal, name, "no command given");
  if (context_ == nullptr) {
    return MakeFailure(ErrorCode::kConnect, name,
                       "not connected (an earlier error closed the connection)");
  }
  milliseconds left = deadline_.Remaining();
  if (left <= milliseconds(0)) {
    return MakeFailure(ErrorCode::kTimeout, name, "no time left before the deadline");
  }
  // SO_RCVTIMEO/SO_SNDTIMEO bound each read and write to the time left.
  if (redisSetTimeout(context_, ToTimeval(left)) != REDIS_OK) {
    return FailFromContext(name, errno);
  }

  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  pointers.reserve(argv.size());
  lengths.reserve(argv.size());
  for (std::string_view arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }

  void* raw = nullptr;
  int saved_errno = 0;
  {
    SigpipeGuard guard;
    errno = 0;
    raw =
        redisCommandArgv(context_, static_cast<int>(argv.size()), pointers.data(), lengths.data());
    saved_errno = errno;
  }
  return FinishReply(name, raw, raw != nullptr, saved_errno);
}

Result<RedisReply> RedisClient::ReadReply() {
  const std::string name = "(read)";
  if (context_ == nullptr) {
    return MakeFailure(ErrorCode::kConnect, name,
                       "not connected (an earlier error closed the connection)");
  }
  milliseconds left = deadline_.Remaining();
  if (left <= milliseconds(0)) {
    return MakeFailure(ErrorCode::kTimeout, name, "no time left before the deadline");
  }
  if (redisSetTimeout(context_, ToTimeval(left)) != REDIS_OK) return FailFromContext(name, errno);
  void* raw = nullptr;
  int saved_errno = 0;
  int status = REDIS_OK;
  {
    SigpipeGuard guard;
    errno = 0;
    status = redisGetReply(context_, &raw);
    saved_errno = errno;
  }
  return FinishReply(name, raw, status == REDIS_OK, saved_errno);
}

Result<RedisReply> RedisClient::FinishReply(std::string_view name, void* raw, bool ok,
                                            int saved_errno) {
  if (!ok || raw == nullptr) {
    if (raw != nullptr) freeReplyObject(raw);
    if (context_->err != 0) return FailFromContext(name, saved_errno);
    Close();
    return MakeFailure(ErrorCode::kInternal, name, "hiredis returned no reply");
  }
  RedisReply reply(static_cast<redisReply*>(raw));
  if (reply.Is(RedisType::kError)) {
    // The server answered: the connection itself is still fine.
    return MakeFailure(ClassifyRedisErrorReply(name, reply.text()), name, Printable(reply.text()),
                       RedisErrorCause(reply.text()));
  }
  return reply;
}

}  // namespace dbcanary
