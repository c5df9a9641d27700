#include <gtest/gtest.h>

#include <cmath>

#include "clients/http/http_client.h"
#include "probes/monitoring/monitoring_pipeline_probe.h"
#include "probes/monitoring/responses.h"

namespace dbcanary::monitoring {
namespace {

const std::string kWhere = "vm: ";

TEST(MonitoringPromAnswer, ParsesAVectorWithNaNAndInf) {
  auto answer = ParsePromAnswer(200, R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"__name__":"up","job":"a"},"value":[1764170000.5,"1"]},
      {"metric":{"job":"b"},"value":[1764170000.5,"NaN"]},
      {"metric":{"job":"c"},"value":[1764170000.5,"+Inf"]},
      {"metric":{"job":"d"},"value":[1764170000.5,"-2.5e3"]}]}})",
                                kWhere);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->result_type, "vector");
  ASSERT_EQ(answer->series.size(), 4u);
  EXPECT_EQ(answer->series[0].value, 1);
  EXPECT_DOUBLE_EQ(answer->series[0].timestamp, 1764170000.5);
  EXPECT_TRUE(std::isnan(answer->series[1].value));
  EXPECT_TRUE(std::isinf(answer->series[2].value));
  EXPECT_EQ(answer->series[3].value, -2500);
}

TEST(MonitoringPromAnswer, AnEmptyVectorHasNoSeries) {
  auto answer = ParsePromAnswer(
      200, R"({"status":"success","data":{"resultType":"vector","result":[]}})", kWhere);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_TRUE(answer->series.empty());
}

TEST(MonitoringPromAnswer, AMatrixKeepsTheNewestRawPointOfEachSeries) {
  auto answer = ParsePromAnswer(200, R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"a":"1"},"values":[[100,"1"],[130,"3"],[115,"2"]]},
      {"metric":{"a":"2"},"values":[[90,"7"]]},
      {"metric":{"a":"3"},"values":[]}]}})",
                                kWhere);
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_EQ(answer->series.size(), 2u);
  EXPECT_EQ(answer->series[0].timestamp, 130);
  EXPECT_EQ(answer->series[0].value, 3);
  EXPECT_EQ(answer->series[1].timestamp, 90);
  EXPECT_EQ(answer->series[1].value, 7);
}

TEST(MonitoringPromAnswer, AScalarCountsAsOneSeries) {
  auto answer = ParsePromAnswer(
      200, R"({"status":"success","data":{"resultType":"scalar","result":[5,"42"]}})", kWhere);
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_EQ(answer->series.size(), 1u);
  EXPECT_EQ(answer->series[0].value, 42);
  EXPECT_EQ(answer->series[0].timestamp, 5);
  auto text = ParsePromAnswer(
      200, R"({"status":"success","data":{"resultType":"string","result":[5,"x"]}})", kWhere);
  ASSERT_TRUE(text) << text.error().message;
  ASSERT_EQ(text->series.size(), 1u);
  EXPECT_TRUE(std::isnan(text->series[0].value));
}

TEST(MonitoringPromAnswer, AnErrorBodyIsAQueryErrorWithItsType) {
  auto answer = ParsePromAnswer(
      400, R"({"status":"error","errorType":"bad_data","error":"parse error at char 5"})", kWhere);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::kQuery);
  EXPECT_NE(answer.error().message.find("bad_data"), std::string::npos) << answer.error().message;
  EXPECT_NE(answer.error().message.find("HTTP 400"), std::string::npos);
  EXPECT_EQ(answer.error().message.rfind(kWhere, 0), 0u);
  // VictoriaMetrics puts the status code in errorType, and may use 422.
  auto vm = ParsePromAnswer(422, R"({"status":"error","errorType":"422","error":"cannot parse"})",
                            kWhere);
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code, ErrorCode::kQuery);
  // status:error even with HTTP 200 is an error.
  auto odd = ParsePromAnswer(200, R"({"status":"error","error":"x"})", kWhere);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, ErrorCode::kQuery);
}

TEST(MonitoringPromAnswer, ANon2xxStatusWithoutJsonIsAQueryError) {
  auto answer = ParsePromAnswer(502, "<html>Bad Gateway</html>", kWhere);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::kQuery);
  EXPECT_NE(answer.error().message.find("HTTP 502"), std::string::npos);
}

TEST(MonitoringPromAnswer, GarbageAndWrongShapesAreProtocolErrors) {
  for (const char* body : {
           "not json",
           "",
           "[1,2]",
           R"({"status":"success"})",
           R"({"status":"success","data":{"result":[]}})",
           R"({"status":"success","data":{"resultType":"vector","result":{}}})",
           R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}})",
           R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}})",
           R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
           R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1]]}]}})",
           R"({"status":"success","data":{"resultType":"scalar","result":[1]}})",
           R"({"status":"success","data":{"resultType":"histogram","result":[]}})",
           R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]})",
       }) {
    auto answer = ParsePromAnswer(200, body, kWhere);
    ASSERT_FALSE(answer) << body;
    EXPECT_EQ(answer.error().code, ErrorCode::kProtocol) << body;
  }
}

TEST(MonitoringLogsAnswer, CountsLinesAndFindsTheNewestTime) {
  auto answer =
      ParseLogsAnswer(200,
                      "{\"_msg\":\"a\",\"_stream\":\"{app=\\\"pg\\\"}\","
                      "\"_time\":\"2026-11-26T15:00:00.123456789Z\"}\n"
                      "{\"_msg\":\"b\",\"_stream\":\"{}\",\"_time\":\"2026-11-26T15:00:05Z\"}\n"
                      "\n"
                      "{\"_time\":\"2026-11-26T16:00:01+01:00\",\"_msg\":\"c\"}\r\n",
                      kWhere);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->lines, 3u);
  ASSERT_TRUE(answer->newest);
  EXPECT_DOUBLE_EQ(*answer->newest, 1795705205.0);  // 2026-11-26T15:00:05Z
}

TEST(MonitoringLogsAnswer, AnEmptyAnswerHasNoLines) {
  auto answer = ParseLogsAnswer(200, "", kWhere);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->lines, 0u);
  EXPECT_FALSE(answer->newest);
}

TEST(MonitoringLogsAnswer, MalformedLinesAreProtocolErrorsNamingTheLine) {
  const std::string good = "{\"_msg\":\"a\",\"_time\":\"2026-11-26T15:00:00Z\"}\n";
  for (const std::string& bad :
       {std::string("{\"_msg\":\"truncated"), std::string("[1]"),
        std::string("{\"_msg\":\"no time\"}"), std::string("{\"_time\":12345}"),
        std::string("{\"_time\":\"yesterday\"}")}) {
    auto answer = ParseLogsAnswer(200, good + bad + "\n", kWhere);
    ASSERT_FALSE(answer) << bad;
    EXPECT_EQ(answer.error().code, ErrorCode::kProtocol) << bad;
    EXPECT_NE(answer.error().message.find("line 2"), std::string::npos) << answer.error().message;
  }
}

TEST(MonitoringLogsAnswer, AnHttpErrorIsAQueryErrorWithTheServerText) {
  auto answer = ParseLogsAnswer(400, "cannot parse query [foo(]: unexpected token", kWhere);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::kQuery);
  EXPECT_NE(answer.error().message.find("cannot parse query"), std::string::npos);
}

TEST(MonitoringHelpers, EncodesFormsAndFormatsTimes) {
  EXPECT_EQ(http::EncodeForm({{"query", "up{job=\"a b\"} > 0"}, {"limit", "10"}}),
            "query=up%7Bjob%3D%22a%20b%22%7D%20%3E%200&limit=10");
  EXPECT_EQ(FormatRfc3339(1795705205.7), "2026-11-26T15:00:05Z");
  EXPECT_TRUE(IsQueryName("dbcanary_build_info"));
  EXPECT_TRUE(IsQueryName("pg2"));
  for (const char* bad : {"", "Up", "1up", "a-b", "a b", "a{b}"})
    EXPECT_FALSE(IsQueryName(bad)) << bad;
  EXPECT_FALSE(IsQueryName(std::string(64, 'a')));
}

}  // namespace
}  // namespace dbcanary::monitoring
