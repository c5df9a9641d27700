#include <gtest/gtest.h>
#include <hiredis/read.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>

#include "clients/redis/redis_client.h"
#include "config/secret.h"

namespace dbcanary {
namespace {

struct ErrorReplyCase {
  std::string_view command;
  std::string_view reply;
  ErrorCode code;
};

TEST(RedisConnectionTest, ClassifiesErrorReplies) {
  const ErrorReplyCase cases[] = {
      {"AUTH", "WRONGPASS invalid username-password pair or user is disabled.", ErrorCode::kAuth},
      {"PING", "NOAUTH Authentication required.", ErrorCode::kAuth},
      {"SET", "NOPERM this user has no permissions to run the 'set' command", ErrorCode::kAuth},
      // Redis < 6 and servers without requirepass answer a bad AUTH with a plain ERR.
      {"AUTH", "ERR invalid password", ErrorCode::kAuth},
      {"auth", "ERR AUTH <password> called without any password configured", ErrorCode::kAuth},
      {"SET", "OOM command not allowed when used memory > 'maxmemory'.", ErrorCode::kQuery},
      {"SET", "READONLY You can't write against a read only replica.", ErrorCode::kQuery},
      {"GET", "LOADING Redis is loading the dataset in memory", ErrorCode::kQuery},
      {"GET", "MOVED 3999 127.0.0.1:6381", ErrorCode::kQuery},
      {"GET", "ERR unknown command 'GETX'", ErrorCode::kQuery},
      {"GET", "", ErrorCode::kQuery},
      // Only the leading word counts: WRONGPASS later in the text is not an auth failure.
      {"GET", "ERR WRONGPASS mentioned in passing", ErrorCode::kQuery},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ClassifyRedisErrorReply(c.command, c.reply), c.code) << c.command << ": " << c.reply;
  }
}

TEST(RedisConnectionTest, ErrorPrefixIsTheFirstWordAndBounded) {
  EXPECT_EQ(RedisErrorPrefix("READONLY You can't write"), "READONLY");
  EXPECT_EQ(RedisErrorPrefix("NOAUTH"), "NOAUTH");
  EXPECT_EQ(RedisErrorPrefix("LOADING\r\n"), "LOADING");
  EXPECT_EQ(RedisErrorPrefix(""), "");
  EXPECT_EQ(RedisErrorPrefix(std::string(100, 'X')).size(), 32u);
}

struct IoErrorCase {
  int hiredis_error;
  int saved_errno;
  std::string_view errstr;
  ErrorCode code;
};

TEST(RedisConnectionTest, ClassifiesIoErrors) {
  const IoErrorCase cases[] = {
      // SO_RCVTIMEO expiring: read(2) fails with EAGAIN.
      {REDIS_ERR_IO, EAGAIN, "Resource temporarily unavailable", ErrorCode::kTimeout},
      // The connect poll(2) expiring: hiredis sets errno to ETIMEDOUT.
      {REDIS_ERR_IO, ETIMEDOUT, "Connection timed out", ErrorCode::kTimeout},
      // errno lost on the way out: the text still says what happened.
      {REDIS_ERR_IO, 0, "Connection timed out", ErrorCode::kTimeout},
      {REDIS_ERR_IO, 0, "Resource temporarily unavailable", ErrorCode::kTimeout},
      {REDIS_ERR_IO, ECONNREFUSED, "Connection refused", ErrorCode::kConnect},
      {REDIS_ERR_IO, EHOSTUNREACH, "No route to host", ErrorCode::kConnect},
      {REDIS_ERR_IO, ECONNRESET, "Connection reset by peer", ErrorCode::kConnect},
      {REDIS_ERR_EOF, 0, "Server closed the connection", ErrorCode::kConnect},
      {REDIS_ERR_PROTOCOL, 0, "Protocol error, got \"H\" as reply type byte", ErrorCode::kProtocol},
      {REDIS_ERR_OTHER, 0, "Name or service not known", ErrorCode::kConnect},
      {REDIS_ERR_OOM, 0, "Out of memory", ErrorCode::kInternal},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ClassifyRedisIoError(c.hiredis_error, c.saved_errno, c.errstr), c.code) << c.errstr;
  }
}

TEST(RedisConnectionTest, TypeNames) {
  EXPECT_EQ(RedisTypeName(RedisType::kStatus), "status");
  EXPECT_EQ(RedisTypeName(RedisType::kNil), "nil");
  EXPECT_EQ(RedisTypeName(RedisType::kError), "error");
}

// A run whose deadline has already passed must not start a connect at all.
TEST(RedisConnectionTest, ExpiredDeadlineFailsWithoutConnecting) {
  RedisEndpoint target;
  target.name = "df";
  target.host = "192.0.2.1";  // TEST-NET-1: would hang if anything tried to reach it
  target.port = 6379;
  target.password = Secret("unit-test-redis-password", "test");
  auto start = std::chrono::steady_clock::now();
  auto client = RedisClient::Connect(target, Deadline::In(std::chrono::milliseconds(0)));
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kTimeout);
  // At once: far below the 5 s connect_timeout a connect attempt to 192.0.2.1 would hang for,
  // with room for a loaded host.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  EXPECT_NE(client.error().message.find("df (192.0.2.1:6379)"), std::string::npos)
      << client.error().message;
  EXPECT_EQ(client.error().message.find("unit-test-redis-password"), std::string::npos);
}

TEST(RedisConnectionTest, DescribeNamesTheAclUser) {
  RedisEndpoint target;
  target.name = "df";
  target.host = "192.0.2.1";
  target.port = 6380;
  target.username = "dbcanary";
  auto client = RedisClient::Connect(target, Deadline::In(std::chrono::milliseconds(0)));
  ASSERT_FALSE(client);
  EXPECT_NE(client.error().message.find("df (dbcanary@192.0.2.1:6380): connect:"),
            std::string::npos)
      << client.error().message;
}

}  // namespace
}  // namespace dbcanary
