#include "clients/pg/pg_session.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "config/secret.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

// Longest single poll(): the stop token is checked at least this often.
constexpr milliseconds kPollSlice{100};
// How long a timed-out query waits for its cancel request to be delivered (a local server
// answers in 1-2 ms); past it the request completes in the background.
constexpr milliseconds kCancelWait{5};
// Cancel helpers still blocked on hung servers; past this many we only close the connection.
constexpr int kMaxCancelsInFlight = 4;
constexpr char kApplicationName[] = "dbcanary";

struct ResultFree {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// libpq messages span lines ("...failed: Connection refused\n\tIs the server running...").
// Fold them into one log-friendly line and make sure no secret survives.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_break = false;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      pending_break = true;
      continue;
    }
    if (pending_break) {
      if (c == '\t' || c == ' ') continue;
      out += "; ";
      pending_break = false;
    }
    out += c;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return RedactSecrets(out);
}

enum class WaitStatus { kReady, kExpired, kStopped, kError };

// Waits for `events` on `fd` until the deadline, in slices so a stop request is seen promptly.
// A stop requested once the deadline has passed counts as the deadline: a drill's stop token is
// also tripped by its deadline. kError leaves poll()'s errno in errno.
WaitStatus WaitSocket(int fd, short events, const Deadline& deadline, const std::stop_token& stop) {
  for (;;) {
    if (stop.stop_requested() && !deadline.Expired()) return WaitStatus::kStopped;
    // Rounded up, so the wait never ends before the deadline it promises to honour.
    const auto left = std::chrono::ceil<milliseconds>(deadline.at() - SteadyClock::now());
    if (left <= milliseconds(0)) return WaitStatus::kExpired;
    pollfd entry{fd, events, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(std::min(left, kPollSlice).count()));
    // POLLERR/POLLHUP count as ready: libpq reads the socket and reports the real error.
    if (ready > 0) return WaitStatus::kReady;
    if (ready < 0 && errno != EINTR) return WaitStatus::kError;
  }
}

// PQcancel opens a second connection, sends the cancel key and then waits for the server to
// close that connection, with no timeout: against a server that accepted the connection and
// hung (SIGSTOP, overload) it does not return until the server moves again. So it runs on a
// helper thread and the probe waits only briefly; the request completes in the background, and
// hung servers hold at most kMaxCancelsInFlight helpers.
void SendCancel(PGconn* conn) {
  static std::atomic<int> in_flight{0};
  PGcancel* cancel = PQgetCancel(conn);
  if (cancel == nullptr) return;
  if (in_flight.fetch_add(1) >= kMaxCancelsInFlight) {
    in_flight.fetch_sub(1);
    PQfreeCancel(cancel);
    return;
  }
  struct Done {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  try {
    std::thread([cancel, done] {
      char errbuf[256];
      PQcancel(cancel, errbuf, sizeof(errbuf));
      PQfreeCancel(cancel);
      in_flight.fetch_sub(1);
      std::lock_guard lock(done->mutex);
      done->done = true;
      done->cv.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    in_flight.fetch_sub(1);
    PQfreeCancel(cancel);
    return;
  }
  std::unique_lock lock(done->mutex);
  done->cv.wait_for(lock, kCancelWait, [&] { return done->done; });
}

PgTable CopyTable(const PGresult* result) {
  const int columns = PQnfields(result);
  const int rows = PQntuples(result);
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(columns));
  for (int c = 0; c < columns; ++c) names.emplace_back(PQfname(result, c));
  std::vector<std::vector<PgValue>> cells(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    auto& row = cells[static_cast<size_t>(r)];
    row.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(result, r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(
            std::string(PQgetvalue(result, r, c), static_cast<size_t>(PQgetlength(result, r, c))));
      }
    }
  }
  return PgTable(std::move(names), std::move(cells));
}

Error QueryError(const PGresult* result, const std::string& describe) {
  const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string state = sqlstate != nullptr ? sqlstate : "";
  std::string text = primary != nullptr ? primary : PQresultErrorMessage(result);
  std::string message = "query on " + describe + " failed: ";
  if (!state.empty()) message += "SQLSTATE " + state + ": ";
  message += text;
  ErrorCause cause;
  cause.sqlstate = state;
  return MakeError(ClassifyQueryError(state), OneLine(message), std::move(cause));
}

bool IsSqlStateChar(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// PgTable

PgTable::PgTable(std::vector<std::string> columns, std::vector<std::vector<PgValue>> rows)
    : columns_(std::move(columns)), rows_(std::move(rows)) {}

Result<size_t> PgTable::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i] == name) return i;
  }
  return MakeError(ErrorCode::kProtocol, "result has no column \"" + std::string(name) + "\"");
}

Result<PgValue> PgTable::Text(size_t row, std::string_view name) const {
  auto column = ColumnIndex(name);
  if (!column) return column.error();
  if (row >= rows_.size() || *column >= rows_[row].size()) {
    return MakeError(ErrorCode::kProtocol, "result has no row " + std::to_string(row) +
                                               " for column \"" + std::string(name) + "\"");
  }
  return rows_[row][*column];
}

Result<std::optional<double>> PgTable::Number(size_t row, std::string_view name) const {
  auto text = Text(row, name);
  if (!text) return text.error();
  if (!text->has_value()) return std::optional<double>();
  auto number = ParsePgNumber(**text, name);
  if (!number) return number.error();
  return std::optional<double>(*number);
}

Result<std::optional<bool>> PgTable::Bool(size_t row, std::string_view name) const {
  auto text = Text(row, name);
  if (!text) return text.error();
  if (!text->has_value()) return std::optional<bool>();
  auto value = ParsePgBool(**text, name);
  if (!value) return value.error();
  return std::optional<bool>(*value);
}

Result<double> ParsePgNumber(std::string_view text, std::string_view what) {
  // from_chars is locale-independent and accepts PostgreSQL's "NaN" and "Infinity".
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return MakeError(ErrorCode::kProtocol, "column \"" + std::string(what) +
                                               "\": not a number: \"" + std::string(text) + "\"");
  }
  return value;
}

Result<bool> ParsePgBool(std::string_view text, std::string_view what) {
  if (text == "t" || text == "true") return true;
  if (text == "f" || text == "false") return false;
  return MakeError(ErrorCode::kProtocol, "column \"" + std::string(what) + "\": not a boolean: \"" +
                                             std::string(text) + "\"");
}

// ---------------------------------------------------------------------------------------------
// Error classification

ErrorCode ClassifyConnectError(std::string_view libpq_message) {
  const std::string m = Lower(libpq_message);
  auto has = [&m](std::string_view needle) { return m.find(needle) != std::string::npos; };
  // Client-side TLS material first: "root certificate file ... does not exist" is not about a role.
  if (has("certificate file") || has("private key file") ||
      has("certificate present, but not private key")) {
    return ErrorCode::kTls;
  }
  // A multi-host attempt concatenates one message per address; an auth refusal on any of them
  // means the server was reached and said no.
  static constexpr std::string_view kAuthPhrases[] = {
      "password authentication failed",  // wrong password (md5/scram), PostgreSQL and PgBouncer
      "authentication failed",           // SASL, peer, cert, PAM
      "no pg_hba.conf entry",
      "pg_hba.conf rejects",
      "no password supplied",
      "does not exist",  // role or database
      "permission denied",
      "not permitted to log in",
      "no such user",      // PgBouncer
      "no such database",  // PgBouncer
  };
  for (auto phrase : kAuthPhrases) {
    if (has(phrase)) return ErrorCode::kAuth;
  }
  // A byte other than 'S', 'N' or 'E' in answer to the SSLRequest (or GSSENCRequest): whatever
  // listens there does not speak PostgreSQL. That is garbage, not a TLS failure.
  if (has("received invalid response to")) return ErrorCode::kProtocol;
  static constexpr std::string_view kTlsPhrases[] = {
      "ssl error",  // handshake and verification ("SSL error: certificate verify failed")
      "server does not support ssl",
      "server certificate",  // host name mismatch
      "certificate verify",
      "could not establish ssl",
      "sslmode",
      "ssl is not supported",
      "tlsv1 alert",
  };
  for (auto phrase : kTlsPhrases) {
    if (has(phrase)) return ErrorCode::kTls;
  }
  // Refused, unreachable, DNS, "SSL SYSCALL error: EOF detected" (the peer went away), the
  // server starting up or shutting down, too many clients.
  return ErrorCode::kConnect;
}

ConnectFailureText SplitVerboseConnectError(std::string_view verbose_message) {
  // Lines only PQERRORS_VERBOSE adds (libpq's pqBuildErrorMessage3).
  static constexpr std::string_view kVerboseOnly[] = {
      "LOCATION:  ",    "SCHEMA NAME:  ",   "TABLE NAME:  ",
      "COLUMN NAME:  ", "DATATYPE NAME:  ", "CONSTRAINT NAME:  ",
  };
  ConnectFailureText out;
  std::string_view rest = verbose_message;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    const std::string_view next = end == std::string_view::npos ? "" : rest.substr(end + 1);
    const bool has_newline = end != std::string_view::npos;
    rest = next;
    bool verbose_only = false;
    for (auto label : kVerboseOnly) verbose_only = verbose_only || line.starts_with(label);
    if (verbose_only) continue;
    // "<severity>:  <SQLSTATE>: <primary>": the code is 5 digits or upper-case letters right
    // after the severity's double space (the severity itself may be translated).
    for (size_t at = line.find(":  "); at != std::string_view::npos;
         at = line.find(":  ", at + 1)) {
      const size_t code = at + 3;
      if (at == 0 || line[at - 1] == ' ' || line.size() < code + 7) continue;
      if (!std::all_of(line.begin() + code, line.begin() + code + 5, IsSqlStateChar)) continue;
      if (line.substr(code + 5, 2) != ": ") continue;
      if (out.sqlstate.empty()) out.sqlstate = std::string(line.substr(code, 5));
      out.message += line.substr(0, code);
      line.remove_prefix(code + 7);
      break;
    }
    out.message += line;
    if (has_newline) out.message += '\n';
  }
  return out;
}

ErrorCode ClassifyQueryError(std::string_view sqlstate) {
  if (sqlstate.empty()) return ErrorCode::kConnect;  // generated by libpq: the connection broke
  if (sqlstate == "57014") return ErrorCode::kTimeout;
  if (sqlstate.starts_with("28")) return ErrorCode::kAuth;
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P")) return ErrorCode::kConnect;
  return ErrorCode::kQuery;
}

// ---------------------------------------------------------------------------------------------
// PgSession

void PgSession::Finisher::operator()(pg_conn* conn) const { PQfinish(conn); }

PgSession::PgSession(std::unique_ptr<pg_conn, Finisher> conn, std::string describe)
    : conn_(std::move(conn)), describe_(std::move(describe)) {}

Result<PgSession> PgSession::Connect(const PgEndpoint& target, const PgConnectOptions& options,
                                     Deadline deadline, std::stop_token stop) {
  std::string describe = target.Describe();
  const auto started = SteadyClock::now();
  const bool connect_timeout_first = started + target.connect_timeout < deadline.at();
  const Deadline until(connect_timeout_first ? started + target.connect_timeout : deadline.at());

  std::vector<const char*> keys;
  std::vector<const char*> values;
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    keys.push_back(key);
    values.push_back(value.c_str());
  };
  const std::string port = std::to_string(target.port);
  const std::string application_name = kApplicationName;
  // GSSAPI encryption is never used here; "prefer" would probe for Kerberos credentials first.
  const std::string gssencmode = "disable";
  std::string startup_options;
  if (options.statement_timeout) {
    // 0 would disable the timeout; the smallest real budget is 1 ms.
    auto ms = std::max<int64_t>(1, options.statement_timeout->count());
    startup_options = "-c statement_timeout=" + std::to_string(ms);
  }
  add("host", target.host);
  add("hostaddr", target.hostaddr);
  add("port", port);
  add("dbname", target.dbname);
  add("user", target.user);
  add("password", target.password.Reveal());
  add("sslmode", target.sslmode);
  add("sslrootcert", target.sslrootcert);
  add("sslcert", target.sslcert);
  add("sslkey", target.sslkey);
  add("application_name", application_name);
  add("gssencmode", gssencmode);
  add("options", startup_options);
  keys.push_back(nullptr);
  values.push_back(nullptr);

  std::unique_ptr<pg_conn, Finisher> conn(
      PQconnectStartParams(keys.data(), values.data(), /*expand_dbname=*/0));
  if (!conn) return MakeError(ErrorCode::kInternal, "connect to " + describe + ": out of memory");
  // Verbose during the startup only, so that a refusal's SQLSTATE reaches the error text (the
  // only place libpq puts it); SplitVerboseConnectError restores the default text.
  PQsetErrorVerbosity(conn.get(), PQERRORS_VERBOSE);
  auto failed = [&]() {
    ConnectFailureText text = SplitVerboseConnectError(PQerrorMessage(conn.get()));
    ErrorCause cause;
    cause.sqlstate = std::move(text.sqlstate);
    return MakeError(ClassifyConnectError(text.message),
                     "connect to " + describe + ": " + OneLine(text.message), std::move(cause));
  };
  if (PQstatus(conn.get()) == CONNECTION_BAD) return failed();

  // The libpq protocol: act as if PQconnectPoll last said "writing", then wait for whatever it
  // asks for. The socket can change between calls (next address of a multi-address host).
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) return failed();
    if (state == PGRES_POLLING_READING || state == PGRES_POLLING_WRITING) {
      const int fd = PQsocket(conn.get());
      if (fd < 0) return failed();
      const short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      switch (WaitSocket(fd, events, until, stop)) {
        case WaitStatus::kReady:
          break;
        case WaitStatus::kExpired: {
          auto waited = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - started);
          return MakeError(
              ErrorCode::kTimeout,
              "connect to " + describe + ": no answer within " + std::to_string(waited.count()) +
                  " ms (" + (connect_timeout_first ? "connect_timeout" : "probe deadline") + ")");
        }
        case WaitStatus::kStopped:
          return MakeError(ErrorCode::kStopped, "connect to " + describe + ": stop requested");
        case WaitStatus::kError: {
          ErrorCause cause;
          cause.system_errno = errno;
          return MakeError(
              ErrorCode::kConnect,
              "connect to " + describe + ": poll failed: " + std::strerror(cause.system_errno),
              std::move(cause));
        }
      }
    }
    state = PQconnectPoll(conn.get());
  }
  PQsetErrorVerbosity(conn.get(), PQERRORS_DEFAULT);
  // Non-blocking from here on: sends never block, and PQfinish cannot hang on a full buffer.
  if (PQsetnonblocking(conn.get(), 1) != 0) return failed();
  return PgSession(std::move(conn), std::move(describe));
}

Result<PgTable> PgSession::Query(const std::string& sql, Deadline deadline, std::stop_token stop) {
  return Run(sql, nullptr, deadline, stop);
}

Result<PgTable> PgSession::QueryParams(const std::string& sql, const std::vector<PgValue>& params,
                                       Deadline deadline, std::stop_token stop) {
  return Run(sql, &params, deadline, stop);
}

bool PgSession::TlsInUse() const { return conn_ && PQsslInUse(conn_.get()) == 1; }

void* PgSession::SslStruct(const char* name) const {
  return conn_ ? PQsslStruct(conn_.get(), name) : nullptr;
}

std::string PgSession::SslAttribute(const char* name) const {
  const char* value = conn_ ? PQsslAttribute(conn_.get(), name) : nullptr;
  return value != nullptr ? value : "";
}

int PgSession::ServerVersion() const { return conn_ ? PQserverVersion(conn_.get()) : 0; }

int PgSession::BackendPid() const { return conn_ ? PQbackendPID(conn_.get()) : 0; }

void PgSession::Close() { conn_.reset(); }

Error PgSession::Lost(std::string_view doing, int system_errno) {
  std::string text = system_errno != 0 ? std::strerror(system_errno)
                     : conn_           ? PQerrorMessage(conn_.get())
                                       : "not connected";
  Close();
  ErrorCause cause;
  cause.system_errno = system_errno;
  return MakeError(ErrorCode::kConnect,
                   std::string(doing) + " on " + describe_ + ": " + OneLine(text),
                   std::move(cause));
}

Error PgSession::Abandon(std::string_view doing, bool stopped) {
  // The server may still be running the statement: ask it to stop, then drop the connection.
  if (conn_) SendCancel(conn_.get());
  Close();
  return MakeError(stopped ? ErrorCode::kStopped : ErrorCode::kTimeout,
                   std::string(doing) + " on " + describe_ +
                       (stopped ? ": stop requested; cancelled" : ": deadline passed; cancelled"));
}

std::optional<Error> PgSession::WaitForQuery(short events, Deadline deadline,
                                             const std::stop_token& stop) {
  switch (WaitSocket(PQsocket(conn_.get()), events, deadline, stop)) {
    case WaitStatus::kReady:
      return std::nullopt;
    case WaitStatus::kExpired:
      return Abandon("query", false);
    case WaitStatus::kStopped:
      return Abandon("query", true);
    case WaitStatus::kError:
      return Lost("poll", errno);
  }
  return Lost("poll", errno);
}

Result<PgTable> PgSession::Run(const std::string& sql, const std::vector<PgValue>* params,
                               Deadline deadline, const std::stop_token& stop) {
  if (!conn_) return MakeError(ErrorCode::kInternal, "query on " + describe_ + ": not connected");
  PGconn* conn = conn_.get();

  int sent = 0;
  if (params == nullptr) {
    sent = PQsendQuery(conn, sql.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params->size());
    for (const auto& param : *params) values.push_back(param ? param->c_str() : nullptr);
    sent = PQsendQueryParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, /*resultFormat=*/0);
  }
  if (sent == 0) return Lost("send query");

  // Non-blocking send: flush, reading whatever the server sends meanwhile (libpq's advice,
  // so that a server blocked on writing to us cannot deadlock the exchange).
  for (;;) {
    const int flushed = PQflush(conn);
    if (flushed == 0) break;
    if (flushed < 0) return Lost("send query");
    if (auto failed = WaitForQuery(POLLIN | POLLOUT, deadline, stop)) return *failed;
    if (PQconsumeInput(conn) == 0) return Lost("send query");
  }

  PgTable table;
  std::optional<Error> failure;
  for (;;) {
    while (PQisBusy(conn) != 0) {
      if (auto failed = WaitForQuery(POLLIN, deadline, stop)) return *failed;
      if (PQconsumeInput(conn) == 0) return Lost("read result");
    }
    ResultPtr result(PQgetResult(conn));
    if (!result) break;
    switch (PQresultStatus(result.get())) {
      case PGRES_TUPLES_OK:
        table = CopyTable(result.get());
        break;
      case PGRES_COMMAND_OK:
      case PGRES_EMPTY_QUERY:
        break;
      case PGRES_FATAL_ERROR:
        // Keep the first error: later ones are usually consequences of it.
        if (!failure) failure = QueryError(result.get(), describe_);
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        Close();
        return MakeError(ErrorCode::kProtocol,
                         "query on " + describe_ + ": unexpected COPY; connection closed");
      case PGRES_BAD_RESPONSE:
        if (!failure) {
          failure = MakeError(ErrorCode::kProtocol,
                              "query on " + describe_ +
                                  ": bad response: " + OneLine(PQresultErrorMessage(result.get())));
        }
        break;
      default:
        break;
    }
  }
  const bool broken = PQstatus(conn) == CONNECTION_BAD;
  if (failure) {
    if (broken) Close();
    return *failure;
  }
  if (broken) return Lost("query");
  return table;
}

}  // namespace dbcanary
