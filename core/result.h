#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dbcanary {

// Why something failed. A bounded set: it becomes the `reason` label of
// dbcanary_probe_failures_total, so it must never grow with input.
enum class ErrorCode {
  kConfig,      // the configuration is invalid
  kConnect,     // TCP connect / TLS handshake / server unreachable
  kAuth,        // authentication or authorization refused
  kTimeout,     // the probe's deadline passed
  kQuery,       // the server answered with an error to a query or command
  kProtocol,    // an answer of an unexpected shape (garbage, missing column, wrong type)
  kTls,         // TLS required but not negotiated, or certificate verification failed
  kUnexpected,  // the server answered correctly but the value is wrong (e.g. GET mismatch)
  kInternal,    // a bug in dbcanary (an exception escaped a probe)
  kStopped,     // stopped by a shutdown or a reload, not by the target: never a target failure
};

// Stable lower-case name of a code, used as a label value.
std::string_view ErrorCodeName(ErrorCode code);

// What the other side said, typed, so that callers branch on it instead of searching the
// message. Every field is empty (or 0) when it does not apply.
struct ErrorCause {
  std::string sqlstate;     // PostgreSQL SQLSTATE of a server error, e.g. "42P01"
  int http_status = 0;      // HTTP status of an answer that was not a success, e.g. 404
  std::string redis_error;  // first word of a redis error reply, e.g. "LOADING", "ERR"
  int system_errno = 0;     // errno of a failed system call

  bool IsSqlState(std::string_view state) const { return sqlstate == state; }
  bool IsRedisError(std::string_view prefix) const { return redis_error == prefix; }
};

struct Error {
  ErrorCode code;
  std::string message;  // for logs only; never a label value, never contains a secret
  ErrorCause cause{};
};

// A value or an Error. The API mirrors std::expected so C++23 can replace it.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return has_value(); }

  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &std::get<T>(state_); }
  T* operator->() { return &std::get<T>(state_); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

inline Error MakeError(ErrorCode code, std::string message, ErrorCause cause = {}) {
  return Error{code, std::move(message), std::move(cause)};
}

}  // namespace dbcanary
