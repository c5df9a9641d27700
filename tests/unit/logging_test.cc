#include "exporter/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "config/secret.h"

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Logs `message` at warn through a fresh logger named `name` in `format`.
std::string LogOnce(LogFormat format, const std::string& name, const std::string& message) {
  std::ostringstream stream;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream);
  sink->set_formatter(MakeLogFormatter(format));
  spdlog::logger logger(name, sink);
  logger.warn("{}", message);
  logger.flush();
  return stream.str();
}

TEST(LoggingTest, JsonEscaping) {
  std::string out;
  AppendJsonEscaped("a\"b\\c\nd\te\r\x01\x1f\x7f é", out);
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\te\\r\\u0001\\u001f\\u007f é");
}

TEST(LoggingTest, JsonLineShape) {
  std::string line = LogOnce(LogFormat::kJson, "pg_replication/shared-postgres", "say \"hi\"\nbye");
  std::regex shape(
      R"(^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"warn","logger":"pg_replication/shared-postgres","msg":"say \\"hi\\"\\nbye"\}\n$)");
  EXPECT_TRUE(std::regex_match(line, shape)) << line;
}

TEST(LoggingTest, TextLineShape) {
  std::string line = LogOnce(LogFormat::kText, "pooler_roundtrip/gitlab-pooler-rw", "connected");
  std::regex shape(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn \[pooler_roundtrip/gitlab-pooler-rw\] connected\n$)");
  EXPECT_TRUE(std::regex_match(line, shape)) << line;
}

// A multi-line message (command output, a server error) stays one line and cannot forge one.
TEST(LoggingTest, TextFormatEscapesMultiLineMessages) {
  std::string line = LogOnce(LogFormat::kText, "drill/restore",
                             "output:\n2026-01-01T00:00:00.000Z info [main] forged\r\x1b[2J a\\n");
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  EXPECT_THAT(line, HasSubstr("] output:\\n2026-01-01T00:00:00.000Z info [main] "
                              "forged\\r\\x1b[2J a\\\\n\n"));
}

TEST(LoggingTest, SecretsAreRedactedInBothFormats) {
  RegisterSecretValue("hunter2-logging-test");
  // A secret with characters JSON escapes must still be caught: redaction runs first.
  RegisterSecretValue("pa\"ss\\word-logging-test");
  for (auto format : {LogFormat::kText, LogFormat::kJson}) {
    std::string line = LogOnce(format, "dbcanary",
                               "password=hunter2-logging-test other=pa\"ss\\word-logging-test");
    EXPECT_THAT(line, Not(HasSubstr("hunter2")));
    EXPECT_THAT(line, Not(HasSubstr("ss\\word")));
    EXPECT_THAT(line, Not(HasSubstr("ss\\\\word")));
    EXPECT_THAT(line, HasSubstr("password=<redacted> other=<redacted>"));
  }
}

TEST(LoggingTest, DaemonLoggersWriteRedactedLinesToStderr) {
  RegisterSecretValue("stderr-secret-value");
  ExporterSettings settings;
  settings.log_format = "json";
  ConfigureLogging(settings);
  auto logger = ProbeLogger("dragonfly_basics", "dragonfly");
  EXPECT_EQ(logger->name(), "dragonfly_basics/dragonfly");
  ::testing::internal::CaptureStderr();
  logger->warn("AUTH failed for stderr-secret-value");
  spdlog::info("bare spdlog call with stderr-secret-value");  // the default logger is ours
  std::string err = ::testing::internal::GetCapturedStderr();
  ConfigureLogging(ExporterSettings{});
  EXPECT_THAT(err, Not(HasSubstr("stderr-secret-value")));
  EXPECT_THAT(
      err,
      HasSubstr(
          "\"logger\":\"dragonfly_basics/dragonfly\",\"msg\":\"AUTH failed for <redacted>\"}\n"));
  EXPECT_THAT(err,
              HasSubstr("\"logger\":\"dbcanary\",\"msg\":\"bare spdlog call with <redacted>\"}\n"));
}

TEST(LoggingTest, LevelFromSettings) {
  ExporterSettings settings;
  settings.log_level = "warn";
  ConfigureLogging(settings);
  EXPECT_EQ(MainLogger()->level(), spdlog::level::warn);
  EXPECT_EQ(ProbeLogger("k", "t")->level(), spdlog::level::warn);
  settings.log_level = "error";
  ConfigureLogging(settings);
  EXPECT_EQ(MainLogger()->level(), spdlog::level::err);
  settings.log_level = "info";
  ConfigureLogging(settings);
}

}  // namespace
}  // namespace dbcanary
