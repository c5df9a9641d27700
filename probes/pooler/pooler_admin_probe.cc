#include "probes/pooler/pooler_admin_probe.h"

#include <optional>
#include <string>
#include <utility>

#include "clients/pg/pg_session.h"

namespace dbcanary {
namespace {

class PoolerAdminProbe final : public Probe {
 public:
  PoolerAdminProbe(std::string target, PgEndpoint admin, PgBouncerExpect expect)
      : target_(std::move(target)), admin_(std::move(admin)), expect_(std::move(expect)) {}

  const std::vector<MetricDesc>& Describe() const override { return PgBouncerMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto session = PgSession::Connect(admin_, PgConnectOptions{}, ctx.deadline, ctx.stop);
    if (!session) {
      result.Fail(MakeError(session.error().code,
                            "pooler_admin " + target_ + ": " + session.error().message));
      return result;
    }
    std::optional<Error> first_error;
    auto note = [&](const Error& error) {
      if (!first_error) first_error = error;
    };
    // One SHOW; nullopt when it failed (noted). Stops querying once the connection is gone.
    auto show = [&](const char* command) -> std::optional<PgTable> {
      if (!session->connected()) return std::nullopt;
      auto rows = session->Query(command, ctx.deadline, ctx.stop);
      if (!rows) {
        note(MakeError(rows.error().code,
                       "pooler_admin " + target_ + ": " + command + ": " + rows.error().message));
        return std::nullopt;
      }
      return std::move(*rows);
    };
    auto check = [&](const Status& status) {
      if (!status) note(status.error());
    };

    PgBouncerObserved observed;
    std::optional<PgBouncerSettings> settings;
    if (auto rows = show("SHOW VERSION")) check(InterpretVersion(target_, *rows, result));
    if (auto rows = show("SHOW CONFIG")) {
      auto parsed = InterpretConfig(target_, *rows, result);
      if (parsed) {
        settings = *parsed;
      } else {
        note(parsed.error());
      }
    }
    if (auto rows = show("SHOW POOLS")) check(InterpretPools(target_, *rows, result, observed));
    if (auto rows = show("SHOW STATS")) check(InterpretStats(target_, *rows, result));
    if (auto rows = show("SHOW LISTS")) check(InterpretLists(target_, *rows, result));
    if (auto rows = show("SHOW DATABASES")) {
      check(InterpretDatabases(target_, *rows, settings ? settings->pool_mode : std::string(),
                               result, observed));
    }
    session->Close();
    AppendPgBouncerExpectations(target_, expect_, settings, observed, result);
    if (first_error) {
      result.Fail(std::move(*first_error));
    } else {
      result.success = true;
    }
    return result;
  }

 private:
  std::string target_;
  PgEndpoint admin_;
  PgBouncerExpect expect_;
};

PgBouncerExpect ReadExpect(YamlMap& map) {
  PgBouncerExpect expect;
  constexpr int64_t kMax = 1000000;
  expect.pool_mode = map.Enum("pool_mode", PgBouncerPoolModes());
  expect.max_client_conn = map.Int("max_client_conn", 1, kMax);
  expect.default_pool_size = map.Int("default_pool_size", 0, kMax);
  expect.max_db_connections = map.Int("max_db_connections", 0, kMax);
  expect.database = map.String("database");
  expect.max_wait_seconds = map.Number("max_wait_seconds", 0, 86400);
  map.Finish();
  return expect;
}

}  // namespace

Result<std::unique_ptr<Probe>> CreatePoolerAdminProbe(const ProbeSettings& settings,
                                                      const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Pooler* pooler =
        RequireTarget(settings, config.FindPooler(settings.target), "pooler_admin: no pooler");
    if (!settings.params) {
      return MakeError(ErrorCode::kConfig,
                       "pooler_admin on " + pooler->name + ": params `admin:` are required");
    }
    YamlMap& params = *settings.params;
    auto admin_map = params.Map("admin");
    if (!admin_map) params.FailHere("pooler_admin: `admin:` (user, password_file) is required");
    PgEndpoint defaults = pooler->connection;
    defaults.dbname = "pgbouncer";
    defaults.user.clear();
    defaults.password = Secret();
    PgEndpoint admin = ReadPgEndpoint(*admin_map, defaults);
    admin.name = pooler->name;
    if (admin.user.empty()) admin_map->Fail("user", "the admin console user is required");
    admin_map->Finish();
    PgBouncerExpect expect;
    if (auto expect_map = params.Map("expect")) expect = ReadExpect(*expect_map);
    params.Finish();
    return std::unique_ptr<Probe>(
        std::make_unique<PoolerAdminProbe>(pooler->name, std::move(admin), std::move(expect)));
  });
}

}  // namespace dbcanary
