// The status page at / of the real exporter against the local stack, loaded in headless
// Chromium (Debian's chromium package): content checks and a phone-size screenshot.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using ::testing::HasSubstr;

std::string Quote(const std::string& text) { return "'" + text + "'"; }

// Runs headless Chromium with `args` plus the flags that keep it offline and quiet.
int Chromium(const std::string& args, std::string* output) {
  char profile[] = "/tmp/dbcanary-chromium-XXXXXX";
  if (::mkdtemp(profile) == nullptr) return -1;
  int code = RunCommand(
      "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--disable-dev-shm-usage --user-data-dir=" +
          std::string(profile) + " " + args + " 2>/dev/null",
      "", output);
  std::error_code ignored;
  fs::remove_all(profile, ignored);
  return code;
}

bool HaveChromium() {
  std::string output;
  return RunCommand("command -v chromium", "", &output) == 0;
}

// Big-endian 32-bit value at `at` of a PNG's bytes.
uint32_t BigEndian(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

class StatusPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    if (!HaveChromium()) {
      if (IntegrationRequired()) FAIL() << "chromium not installed (deploy/local/install-deps.sh)";
      GTEST_SKIP() << "chromium not installed";
    }
  }
};

// Pins: the page a browser renders lists the groups and real checks with their state,
// and stays readable at phone width (screenshot kept as a CI artifact).
TEST_F(StatusPageTest, ChromiumRendersGroupedChecksAndPhoneScreenshot) {
  ExporterProcess exporter({"serve", "--config", Stack::Get().ConfigPath()});
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
  std::string url = "http://127.0.0.1:" + std::to_string(exporter.port()) + "/";

  // The JSON view of the same checks. Until more than 20 pass: waited for (one run can trip
  // over a busy machine), not expected of the first page after start-up.
  HttpResponse api;
  nlohmann::json checks;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);;) {
    api = exporter.Get("/api/checks");
    ASSERT_EQ(api.status, 200) << exporter.Log();
    checks = nlohmann::json::parse(api.body);
    if (checks["counts"]["pass"].get<int>() > 20 || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(checks["groups"].size(), 8u) << api.body;
  EXPECT_GT(checks["counts"]["pass"].get<int>(), 20) << api.body;

  std::string dom;
  ASSERT_EQ(Chromium("--dump-dom " + Quote(url), &dom), 0) << dom;
  EXPECT_THAT(dom, HasSubstr("<meta name=\"viewport\""));
  EXPECT_THAT(dom, ::testing::ContainsRegex("<h1>(NO-)?GO</h1>"));
  for (const char* group : {"Operator", "Cluster and replication", "Tenants", "Poolers", "Backups",
                            "Dragonfly", "Performance", "Monitoring"}) {
    EXPECT_THAT(dom, HasSubstr("<h2>" + std::string(group))) << group;
  }
  // The stack's config skips the groups it cannot verify, with the reason shown.
  EXPECT_THAT(dom, HasSubstr("<section id=\"group-operator\" class=\"skipped\">\n<h2>Operator "
                             "<span class=\"verdict\">SKIPPED: no Kubernetes API here</span>"));
  // Values for people: certificate validity in days, with the raw seconds on hover.
  EXPECT_THAT(dom, ::testing::ContainsRegex("<td data-label=\"observed\" title=\"[0-9.e+]+ "
                                            "seconds\">[0-9.]+ d</td>"));
  EXPECT_THAT(dom, HasSubstr("<tr class=\"pass\"><td class=\"state\">pass</td>"
                             "<td class=\"checkname\">min_streaming_standbys"));
  EXPECT_THAT(dom, HasSubstr("<td data-label=\"target\">shared-postgres</td>"));
  EXPECT_THAT(dom, ::testing::ContainsRegex("[0-9]+s ago"));

  fs::path artifacts = fs::path(DBCANARY_BINARY).parent_path() / "artifacts";
  fs::create_directories(artifacts);
  fs::path screenshot = artifacts / "status-page-phone.png";
  fs::remove(screenshot);
  std::string output;
  ASSERT_EQ(Chromium("--hide-scrollbars --window-size=390,844 --screenshot=" +
                         Quote(screenshot.string()) + " " + Quote(url),
                     &output),
            0)
      << output;
  ASSERT_TRUE(fs::exists(screenshot)) << output;
  std::ifstream file(screenshot, std::ios::binary);
  std::string png((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_EQ(BigEndian(png, 16), 390u);  // IHDR width: the phone viewport
  EXPECT_EQ(BigEndian(png, 20), 844u);
  std::cout << "status page screenshot: " << screenshot.string() << "\n";
}

}  // namespace
}  // namespace dbcanary::testing
