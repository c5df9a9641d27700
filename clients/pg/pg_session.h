#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "config/endpoint.h"
#include "core/deadline.h"
#include "core/result.h"

// libpq's handle, kept out of this header so that callers need no libpq include.
struct pg_conn;

namespace dbcanary {

// One cell of a result: NULL is std::nullopt, anything else the server's text form.
using PgValue = std::optional<std::string>;

// A query result copied out of libpq: column names and text cells. Small by design (probe
// queries return a handful of rows), and a plain value so that the code interpreting rows is
// tested without a server. Columns are looked up by name, never by position.
class PgTable {
 public:
  PgTable() = default;
  PgTable(std::vector<std::string> columns, std::vector<std::vector<PgValue>> rows);

  const std::vector<std::string>& columns() const { return columns_; }
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }

  // Index of the column called `name`; kProtocol naming the column when there is none.
  Result<size_t> ColumnIndex(std::string_view name) const;

  // The cell at `row` of column `name`. kProtocol when the column is missing.
  Result<PgValue> Text(size_t row, std::string_view name) const;
  // The cell parsed as a number (int, numeric, float, "NaN", "Infinity"); NULL stays nullopt.
  // kProtocol when the column is missing or the text is not a number.
  Result<std::optional<double>> Number(size_t row, std::string_view name) const;
  // The cell parsed as a boolean ("t"/"f", as PostgreSQL prints them); NULL stays nullopt.
  Result<std::optional<bool>> Bool(size_t row, std::string_view name) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<PgValue>> rows_;
};

// Parses PostgreSQL's text form of a number. `what` names the value in the error.
Result<double> ParsePgNumber(std::string_view text, std::string_view what);
// Parses PostgreSQL's text form of a boolean ("t", "f", also "true"/"false").
Result<bool> ParsePgBool(std::string_view text, std::string_view what);

// Bounded reason for a failed connection attempt, from libpq's error text. Most connection
// failures carry no SQLSTATE (refused, DNS, TLS are libpq's own), so this matches the (English)
// messages of libpq 15, PostgreSQL 15 and PgBouncer 1.18: authentication refusals -> kAuth, TLS
// failures -> kTls, a non-PostgreSQL answer to the SSL/GSS negotiation -> kProtocol, everything
// else (refused, unreachable, DNS, server going away) -> kConnect.
ErrorCode ClassifyConnectError(std::string_view libpq_message);

// A failed connection attempt's text as libpq writes it with PQERRORS_VERBOSE, split into the
// SQLSTATE of the first server error in it ("FATAL:  28P01: password authentication failed...")
// and the text that the default verbosity prints (the code and the verbose-only LOCATION, SCHEMA
// NAME, ... lines removed). libpq 15 has no other way to give the SQLSTATE of an ErrorResponse
// received during the startup: PQgetResult returns nothing after a failed PQconnectPoll.
// sqlstate is empty when no server error is in the text (refused, DNS, TLS, timeout).
struct ConnectFailureText {
  std::string message;
  std::string sqlstate;
};
ConnectFailureText SplitVerboseConnectError(std::string_view verbose_message);

// Bounded reason for an error result of a query, from its SQLSTATE: class 28 -> kAuth,
// 57014 (statement timeout or cancel) -> kTimeout, class 08 and 57P0x (server going away)
// -> kConnect, anything else -> kQuery.
ErrorCode ClassifyQueryError(std::string_view sqlstate);

// Per-connection choices of the caller.
struct PgConnectOptions {
  // Sent as the startup parameter `options=-c statement_timeout=<ms>`, a server-side backstop
  // for the client deadline. Only for direct PostgreSQL connections: PgBouncer refuses startup
  // parameters it does not know unless its ignore_startup_parameters lists them.
  std::optional<std::chrono::milliseconds> statement_timeout;
};

// One libpq connection, closed on destruction. Every wait is a poll() on the connection's socket
// in slices of at most 100 ms, bounded by the Deadline passed in and interrupted by the stop
// token; nothing uses libpq's blocking calls (connect_timeout has whole-second resolution, a
// minimum of 2 s, and PQexec waits forever on a server that accepted the connection and hung).
// Not thread-safe: one probe run owns it.
class PgSession {
 public:
  // Connects to `target`. The attempt ends at the earlier of `deadline` and the target's own
  // connect_timeout (kTimeout), or at a stop request (kStopped). Errors name the target by
  // PgEndpoint::Describe(), never the password; a refusal by the server (28P01, 3D000, ...)
  // carries its SQLSTATE in Error::cause.sqlstate.
  // Known blocking point: a host name is resolved by libpq with getaddrinfo(), which has no
  // timeout; use IP addresses or a local resolver cache where DNS may hang.
  static Result<PgSession> Connect(const PgEndpoint& target, const PgConnectOptions& options,
                                   Deadline deadline, std::stop_token stop = {});

  PgSession(PgSession&& other) noexcept = default;
  PgSession& operator=(PgSession&& other) noexcept = default;
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;
  ~PgSession() = default;

  // Runs `sql` with the simple query protocol (several statements allowed; the result of the
  // last one that returned rows is kept) and waits for the answer until `deadline`. At the
  // deadline, or when `stop` is requested, it sends a cancel request, closes the connection
  // and returns kTimeout (deadline) or kStopped (stop requested before the deadline). After any
  // connection-level failure the session is closed. A server error carries its SQLSTATE in
  // Error::cause.sqlstate (the message also shows it, for logs).
  Result<PgTable> Query(const std::string& sql, Deadline deadline, std::stop_token stop = {});
  // The same with $1..$n parameters (extended protocol, unnamed statement; safe through a
  // transaction-mode PgBouncer). A std::nullopt parameter is SQL NULL.
  Result<PgTable> QueryParams(const std::string& sql, const std::vector<PgValue>& params,
                              Deadline deadline, std::stop_token stop = {});

  // Whether the connection is still open.
  bool connected() const { return conn_ != nullptr; }
  // Whether the connection negotiated TLS (PQsslInUse).
  bool TlsInUse() const;
  // libpq's PQsslStruct(conn, name) ("OpenSSL" gives the SSL*), nullptr when closed or not TLS.
  void* SslStruct(const char* name) const;
  // libpq's PQsslAttribute(conn, name) (e.g. "protocol"); empty when closed or not TLS.
  std::string SslAttribute(const char* name) const;
  // The server's version as an integer (150018 for 15.18), 0 when closed.
  int ServerVersion() const;
  // The process id of the server backend (PostgreSQL's pid; PgBouncer reports its own).
  int BackendPid() const;
  // "user@host:port/dbname", for messages.
  const std::string& describe() const { return describe_; }

  // Closes the connection now (also done by the destructor).
  void Close();
  // Hands the open connection to the caller, who then owns it (PQfinish), for code that drives
  // libpq itself (the benchmark's multiplexed clients); the session is closed afterwards.
  pg_conn* Release() { return conn_.release(); }

 private:
  struct Finisher {
    void operator()(pg_conn* conn) const;
  };
  PgSession(std::unique_ptr<pg_conn, Finisher> conn, std::string describe);

  Result<PgTable> Run(const std::string& sql, const std::vector<PgValue>* params, Deadline deadline,
                      const std::stop_token& stop);
  // Closes the connection and builds the error returned for a connection-level failure; with
  // a `system_errno` (a failed poll) that errno is the detail and the cause.
  Error Lost(std::string_view doing, int system_errno = 0);
  // Cancels the running query (bounded wait), closes and builds the kTimeout error, or the
  // kStopped one when `stopped`.
  Error Abandon(std::string_view doing, bool stopped);
  // Waits for `events` on the socket of a query in flight: nothing when ready, else the error
  // (the query abandoned at the deadline or on stop, or the connection lost).
  std::optional<Error> WaitForQuery(short events, Deadline deadline, const std::stop_token& stop);

  std::unique_ptr<pg_conn, Finisher> conn_;
  std::string describe_;
};

}  // namespace dbcanary
