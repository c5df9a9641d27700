#include <gtest/gtest.h>

#include <cmath>

#include "clients/pg/pg_session.h"

namespace dbcanary {
namespace {

TEST(PgTableTest, LooksUpColumnsByNameAndKeepsNulls) {
  PgTable table({"b", "a"}, {{PgValue("x"), std::nullopt}});
  ASSERT_EQ(table.size(), 1u);
  auto a = table.Text(0, "a");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->has_value());
  auto b = table.Text(0, "b");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, PgValue("x"));
}

TEST(PgTableTest, MissingColumnIsProtocolErrorNamingIt) {
  PgTable table({"a"}, {{PgValue("1")}});
  auto missing = table.Number(0, "replay_lag_bytes");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kProtocol);
  EXPECT_NE(missing.error().message.find("\"replay_lag_bytes\""), std::string::npos);
  auto row = table.Text(3, "a");
  ASSERT_FALSE(row);
  EXPECT_EQ(row.error().code, ErrorCode::kProtocol);
}

TEST(PgTableTest, ParsesNumbersAndBooleansAsPostgresPrintsThem) {
  PgTable table({"n", "f", "t", "nan", "null", "bad", "yes", "no"},
                {{PgValue("123456789012"), PgValue("0.000125"), PgValue("-1.5e3"), PgValue("NaN"),
                  std::nullopt, PgValue("12abc"), PgValue("t"), PgValue("f")}});
  EXPECT_EQ(**table.Number(0, "n"), 123456789012.0);
  EXPECT_DOUBLE_EQ(**table.Number(0, "f"), 0.000125);
  EXPECT_EQ(**table.Number(0, "t"), -1500.0);
  EXPECT_TRUE(std::isnan(**table.Number(0, "nan")));
  EXPECT_FALSE(table.Number(0, "null")->has_value());
  auto bad = table.Number(0, "bad");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kProtocol);
  EXPECT_NE(bad.error().message.find("12abc"), std::string::npos);
  EXPECT_EQ(**table.Bool(0, "yes"), true);
  EXPECT_EQ(**table.Bool(0, "no"), false);
  EXPECT_FALSE(table.Bool(0, "n"));
  EXPECT_FALSE(table.Bool(0, "null")->has_value());
}

TEST(PgTableTest, NumberParsingIgnoresTheGlobalLocale) {
  EXPECT_FALSE(ParsePgNumber("", "x"));
  EXPECT_FALSE(ParsePgNumber("1,5", "x"));
  EXPECT_EQ(*ParsePgNumber("1.5", "x"), 1.5);
  EXPECT_TRUE(std::isinf(*ParsePgNumber("Infinity", "x")));
}

struct ClassifyCase {
  const char* message;
  ErrorCode expected;
};

// Messages as libpq 15 / PostgreSQL 15 / PgBouncer 1.18 print them.
TEST(PgErrorTest, ClassifiesConnectFailures) {
  const ClassifyCase cases[] = {
      {"connection to server at \"localhost\" (127.0.0.1), port 5432 failed: FATAL:  password "
       "authentication failed for user \"dbcanary\"\n",
       ErrorCode::kAuth},
      {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf entry for "
       "host \"127.0.0.1\", user \"x\", database \"postgres\", no encryption\n",
       ErrorCode::kAuth},
      {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  role \"nobody\" does not "
       "exist\n",
       ErrorCode::kAuth},
      {"connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  SASL authentication "
       "failed\n",
       ErrorCode::kAuth},
      {"connection to server at \"127.0.0.1\", port 6432 failed: ERROR:  no such user: bob\n",
       ErrorCode::kAuth},
      {"connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no password "
       "supplied\n",
       ErrorCode::kAuth},
      // A multi-address host: the first address refused, the second said no to the password.
      {"connection to server at \"localhost\" (::1), port 5432 failed: Connection refused\n\tIs "
       "the server running on that host and accepting TCP/IP connections?\nconnection to server "
       "at \"localhost\" (127.0.0.1), port 5432 failed: FATAL:  password authentication failed "
       "for user \"x\"\n",
       ErrorCode::kAuth},
      {"connection to server at \"127.0.0.1\", port 5432 failed: SSL error: certificate verify "
       "failed\n",
       ErrorCode::kTls},
      {"connection to server at \"127.0.0.1\", port 5432 failed: server certificate for "
       "\"localhost\" does not match host name \"127.0.0.1\"\n",
       ErrorCode::kTls},
      {"connection to server at \"127.0.0.1\", port 5432 failed: server does not support SSL, but "
       "SSL was required\n",
       ErrorCode::kTls},
      {"connection to server at \"127.0.0.1\", port 5432 failed: root certificate file "
       "\"/nope/ca.crt\" does not exist\nEither provide the file or change sslmode to disable "
       "server certificate verification.\n",
       ErrorCode::kTls},
      {"connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server "
       "running on that host and accepting TCP/IP connections?\n",
       ErrorCode::kConnect},
      {"could not translate host name \"nowhere.invalid\" to address: Name or service not known\n",
       ErrorCode::kConnect},
      {"connection to server at \"10.0.0.1\", port 5432 failed: No route to host\n",
       ErrorCode::kConnect},
      {"connection to server at \"127.0.0.1\", port 5432 failed: SSL SYSCALL error: EOF detected\n",
       ErrorCode::kConnect},
      // Something that is not PostgreSQL answered the SSLRequest: garbage, not a TLS problem.
      {"connection to server at \"127.0.0.1\", port 5432 failed: received invalid response to "
       "SSL negotiation: \x7f\n",
       ErrorCode::kProtocol},
      {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  the database system is "
       "starting up\n",
       ErrorCode::kConnect},
      {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  sorry, too many clients "
       "already\n",
       ErrorCode::kConnect},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ErrorCodeName(ClassifyConnectError(c.message)), ErrorCodeName(c.expected))
        << c.message;
  }
}

TEST(PgErrorTest, ClassifiesQueryFailuresBySqlstate) {
  EXPECT_EQ(ClassifyQueryError("57014"), ErrorCode::kTimeout);  // statement_timeout / cancel
  EXPECT_EQ(ClassifyQueryError("28P01"), ErrorCode::kAuth);
  EXPECT_EQ(ClassifyQueryError("08006"), ErrorCode::kConnect);
  EXPECT_EQ(ClassifyQueryError("57P01"), ErrorCode::kConnect);  // admin shutdown
  EXPECT_EQ(ClassifyQueryError(""), ErrorCode::kConnect);       // libpq: connection lost
  EXPECT_EQ(ClassifyQueryError("42P01"), ErrorCode::kQuery);
  EXPECT_EQ(ClassifyQueryError("25006"), ErrorCode::kQuery);  // read-only transaction
  EXPECT_EQ(ClassifyQueryError("42501"), ErrorCode::kQuery);
}

}  // namespace
}  // namespace dbcanary
