#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/endpoint.h"
#include "core/deadline.h"
#include "core/result.h"

// hiredis types, kept out of this header so users of RedisClient need not include hiredis.
struct redisContext;
struct redisReply;

namespace dbcanary {

// The RESP2 reply types hiredis 0.14 reports.
enum class RedisType { kString, kArray, kInteger, kNil, kStatus, kError };

// "string", "array", ...: for error messages.
std::string_view RedisTypeName(RedisType type);

// A non-owning view of one node of a reply (the reply itself or an array element).
// Valid as long as the RedisReply it came from.
class RedisValue {
 public:
  explicit RedisValue(const redisReply* node) : node_(node) {}

  RedisType type() const;
  bool Is(RedisType type) const { return this->type() == type; }
  // Bytes of a string, status or error reply; empty for the other types. Binary-safe.
  std::string_view text() const;
  // Value of an integer reply; 0 for the other types.
  long long integer() const;
  // Number of elements of an array reply; 0 for the other types.
  size_t size() const;
  // Element `index` (< size()) of an array reply.
  RedisValue operator[](size_t index) const;

 private:
  const redisReply* node_;
};

// Owns one hiredis reply tree and frees it.
class RedisReply {
 public:
  explicit RedisReply(redisReply* reply);  // takes ownership; must not be null

  RedisValue value() const { return RedisValue(reply_.get()); }
  RedisType type() const { return value().type(); }
  bool Is(RedisType type) const { return value().Is(type); }
  std::string_view text() const { return value().text(); }
  long long integer() const { return value().integer(); }
  size_t size() const { return value().size(); }
  RedisValue operator[](size_t index) const { return value()[index]; }

 private:
  struct Free {
    void operator()(redisReply* reply) const;
  };
  std::unique_ptr<redisReply, Free> reply_;
};

// One connection to a Redis-protocol server (Dragonfly, or redis-server in tests), made for
// one probe run and bounded by that run's Deadline: the TCP connect waits at most
// min(connect_timeout, time left) and every command sets the socket timeouts to the time left
// before it is sent, so nothing waits past the deadline. Any I/O or protocol error frees the
// hiredis context on the spot (a context in error state is never reused); later commands then
// fail with kConnect. Error messages name the target with RedisEndpoint::Describe(), never
// carry command arguments, and pass through RedactSecrets().
class RedisClient {
 public:
  // Connects, then authenticates when a password is configured: "AUTH password", or
  // "AUTH username password" for an ACL user.
  static Result<RedisClient> Connect(const RedisEndpoint& target, const Deadline& deadline);

  RedisClient(RedisClient&& other) noexcept;
  RedisClient& operator=(RedisClient&& other) noexcept;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  ~RedisClient();

  // Sends one command, arguments binary-safe, and waits for its reply until the deadline.
  // An error reply becomes an Error (see ClassifyRedisErrorReply) whose cause.redis_error is the
  // reply's first word ("ERR", "LOADING", ...); the connection stays usable. An I/O failure
  // carries the errno of the failed call in cause.system_errno when there is one.
  Result<RedisReply> Command(std::span<const std::string_view> argv);
  Result<RedisReply> Command(std::initializer_list<std::string_view> argv) {
    return Command(std::span<const std::string_view>(argv.begin(), argv.size()));
  }

  // Waits until the deadline for the next reply the server pushes without a command (a pub/sub
  // message after SUBSCRIBE). An error reply becomes an Error as in Command().
  Result<RedisReply> ReadReply();

  // False once an I/O or protocol error closed the connection.
  bool connected() const { return context_ != nullptr; }
  // Moves the deadline later commands are bounded by (for callers that reuse a connection).
  void set_deadline(const Deadline& deadline) { deadline_ = deadline; }
  // "name (user@host:port)": how messages refer to the target.
  const std::string& describe() const { return describe_; }

 private:
  RedisClient(const RedisEndpoint& target, const Deadline& deadline);
  // Turns the context's error into an Error and frees the context.
  Error FailFromContext(std::string_view what, int saved_errno);
  Error MakeFailure(ErrorCode code, std::string_view what, std::string_view detail,
                    ErrorCause cause = {}) const;
  // A reply from hiredis as a Result: a transport failure (`ok` false or no reply), an error
  // reply with its cause, or the reply.
  Result<RedisReply> FinishReply(std::string_view name, void* raw, bool ok, int saved_errno);
  void Close();

  std::string describe_;
  Deadline deadline_;
  redisContext* context_ = nullptr;
};

// Maps an error reply to a bounded code. WRONGPASS, NOAUTH and NOPERM (and any error answer
// to AUTH itself) are kAuth; everything else (OOM, READONLY, LOADING, MOVED, ERR, ...) is kQuery.
ErrorCode ClassifyRedisErrorReply(std::string_view command, std::string_view reply);

// The leading word of an error reply ("WRONGPASS", "READONLY"); at most 32 characters.
std::string_view RedisErrorPrefix(std::string_view reply);

// The cause of an error reply: redis_error = RedisErrorPrefix(reply). For code that reads error
// replies itself (elements of an EXEC or pipeline answer).
ErrorCause RedisErrorCause(std::string_view reply);

// Maps a hiredis context error (REDIS_ERR_* in `hiredis_error`, errno right after the failed
// call, the context's errstr) to a bounded code: socket timeouts are kTimeout, refused or
// unreachable peers and closed connections kConnect, unparsable bytes kProtocol.
ErrorCode ClassifyRedisIoError(int hiredis_error, int saved_errno, std::string_view errstr);

}  // namespace dbcanary
