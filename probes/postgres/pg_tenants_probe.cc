#include "probes/postgres/pg_tenants_probe.h"

#include <map>
#include <utility>

#include "probes/postgres/pg_tenant_isolation.h"
#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

class PgTenantsProbe final : public Probe {
 public:
  PgTenantsProbe(std::string target, std::shared_ptr<PgTopologySource> topology,
                 std::vector<TenantSpec> tenants, bool isolation)
      : target_(std::move(target)),
        topology_(std::move(topology)),
        tenants_(std::move(tenants)),
        isolation_(isolation) {}

  const std::vector<MetricDesc>& Describe() const override { return TenantMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    std::vector<TenantFacts> facts(tenants_.size());
    std::vector<TenantIsolationFacts> isolation(tenants_.size());
    auto topology = topology_->Current(ctx);
    if (!topology) {
      result.Fail(topology.error());
      return result;
    }
    auto primary = (*topology)->WriteEndpoint();
    Status status = primary ? Measure(*primary, ctx, facts, isolation) : Status(primary.error());
    if (status && isolation_) status = MeasureIsolation(*primary, ctx, facts, isolation);
    for (size_t i = 0; i < tenants_.size(); ++i) {
      ReportTenant(target_, tenants_[i], facts[i], result);
      if (isolation_) ReportTenantIsolation(tenants_[i], isolation[i], result);
    }
    if (!status) {
      result.Fail(status.error());
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  Status Measure(const PgEndpoint& primary, const ProbeContext& ctx,
                 std::vector<TenantFacts>& facts,
                 std::vector<TenantIsolationFacts>& isolation) const {
    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(primary, options, ctx.deadline, ctx.stop);
    if (!session) return session.error();
    std::vector<std::string> names;
    for (const auto& tenant : tenants_) names.push_back(tenant.database);
    auto table = session->QueryParams(kPgTenantDatabasesQuery, {TextArrayLiteral(names)},
                                      ctx.deadline, ctx.stop);
    session->Close();
    if (!table) return table.error();
    std::map<std::string, size_t> row_of;
    for (size_t row = 0; row < table->size(); ++row) {
      auto name = table->Text(row, "datname");
      if (!name) return name.error();
      if (name->has_value()) row_of[**name] = row;
    }
    std::optional<Error> first_error;
    for (size_t i = 0; i < tenants_.size(); ++i) {
      const TenantSpec& tenant = tenants_[i];
      TenantFacts& fact = facts[i];
      auto found = row_of.find(tenant.database);
      if (found != row_of.end()) {
        const size_t row = found->second;
        auto owner = table->Text(row, "owner");
        auto encoding = table->Text(row, "encoding");
        auto size = table->Number(row, "size_bytes");
        if (!owner) return owner.error();
        if (!encoding) return encoding.error();
        if (!size) return size.error();
        fact.exists = true;
        fact.owner = owner->value_or("");
        fact.encoding = encoding->value_or("");
        fact.size_bytes = size->value_or(0);
        if (!tenant.extensions.empty()) {
          auto read = ReadExtensions(primary, tenant.database, ctx, fact);
          if (!read && !first_error) first_error = read.error();
        }
      }
      if (tenant.login) {
        // A refused login is an observation (tenant_login fails), not a failed measurement.
        PgEndpoint as_tenant = primary;
        as_tenant.user = tenant.login->user;
        as_tenant.password = tenant.login->password;
        as_tenant.dbname = tenant.database;
        auto login = PgSession::Connect(as_tenant, options, ctx.deadline, ctx.stop);
        fact.login_success = static_cast<bool>(login);
        if (!login) ctx.log.debug("tenant login: {}", login.error().message);
        if (login && isolation_ && fact.exists) CheckOwnerCanCreate(*login, ctx, isolation[i]);
      }
    }
    if (first_error) return *first_error;
    return Ok{};
  }

  // After Measure: PUBLIC's privileges, then every tenant's login against the others' databases.
  Status MeasureIsolation(const PgEndpoint& primary, const ProbeContext& ctx,
                          const std::vector<TenantFacts>& facts,
                          std::vector<TenantIsolationFacts>& isolation) const {
    std::vector<bool> exists;
    std::vector<bool> own_login_ok;
    for (const auto& fact : facts) {
      exists.push_back(fact.exists);
      own_login_ok.push_back(fact.login_success.value_or(false));
    }
    auto read = ReadPublicPrivileges(primary, tenants_, exists, ctx, isolation);
    if (!read) return read;
    return TryOtherTenants(primary, tenants_, exists, own_login_ok, ctx, isolation);
  }

  // pg_extension is per database: connect to it as the monitoring role (it has CONNECT).
  Status ReadExtensions(const PgEndpoint& primary, const std::string& database,
                        const ProbeContext& ctx, TenantFacts& fact) const {
    PgEndpoint connection = primary;
    connection.dbname = database;
    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(connection, options, ctx.deadline, ctx.stop);
    if (!session) return session.error();
    auto table = session->Query(kPgTenantExtensionsQuery, ctx.deadline, ctx.stop);
    session->Close();
    if (!table) return table.error();
    for (size_t row = 0; row < table->size(); ++row) {
      auto name = table->Text(row, "extname");
      if (!name) return name.error();
      if (name->has_value()) fact.extensions.insert(**name);
    }
    fact.extensions_read = true;
    return Ok{};
  }

  std::string target_;
  std::shared_ptr<PgTopologySource> topology_;
  std::vector<TenantSpec> tenants_;
  bool isolation_ = false;
};

}  // namespace

const std::vector<MetricDesc>& TenantMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgTenantDatabaseExists), "Whether the declared tenant database exists (1/0).",
       MetricType::kGauge},
      {std::string(kPgTenantDatabaseSize), "Size of the tenant database (pg_database_size).",
       MetricType::kGauge},
      {std::string(kPgTenantExtensionInstalled),
       "Whether a declared extension is installed in the tenant database (1/0).",
       MetricType::kGauge},
      {std::string(kPgTenantLoginSuccess),
       "Whether the tenant's own role could log in to its database (1/0).", MetricType::kGauge},
  };
  return descs;
}

std::string TextArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

void ReportTenant(const std::string& target, const TenantSpec& spec, const TenantFacts& facts,
                  ProbeResult& result) {
  const Labels labels = {{"target", target}, {"database", spec.database}};
  result.Add(std::string(kPgTenantDatabaseExists), labels, facts.exists ? 1 : 0);
  result.expectations.push_back(ExpectText("tenant_database_exists", spec.database,
                                           facts.exists ? "exists" : "missing", "exists"));
  if (facts.exists) {
    result.Add(std::string(kPgTenantDatabaseSize), labels, facts.size_bytes);
    if (!spec.owner.empty()) {
      result.expectations.push_back(
          ExpectText("tenant_owner", spec.database, facts.owner, spec.owner));
    }
    result.expectations.push_back(
        ExpectText("tenant_encoding", spec.database, facts.encoding, spec.encoding));
    if (!spec.extensions.empty() && facts.extensions_read) {
      std::string missing;
      for (const auto& extension : spec.extensions) {
        const bool installed = facts.extensions.count(extension) > 0;
        result.Add(std::string(kPgTenantExtensionInstalled),
                   {{"target", target}, {"database", spec.database}, {"extension", extension}},
                   installed ? 1 : 0);
        if (!installed) missing += (missing.empty() ? "missing: " : ", ") + extension;
      }
      ExpectationResult check;
      check.check = "tenant_extensions";
      check.target = spec.database;
      check.pass = missing.empty();
      check.observed = check.pass ? 1 : 0;
      check.threshold = 1;
      check.observed_text = check.pass ? "all installed" : missing;
      check.expected_text = "all of";
      for (const auto& extension : spec.extensions) check.expected_text += " " + extension;
      result.expectations.push_back(std::move(check));
    }
  }
  if (facts.login_success) {
    result.Add(std::string(kPgTenantLoginSuccess), labels, *facts.login_success ? 1 : 0);
    result.expectations.push_back(
        ExpectNumber("tenant_login", spec.database, *facts.login_success ? 1 : 0, "==", 1));
  }
}

Result<std::unique_ptr<Probe>> CreatePgTenantsProbe(const ProbeSettings& settings,
                                                    const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const PostgresCluster* cluster = config.FindCluster(settings.target);
    std::vector<TenantSpec> tenants;
    bool isolation = false;
    if (settings.params) {
      isolation = settings.params->Bool("isolation").value_or(false);
      for (YamlMap& item : settings.params->ListOfMaps("tenants")) {
        TenantSpec spec;
        spec.database = item.RequiredString("database");
        spec.owner = item.String("owner").value_or("");
        spec.encoding = item.String("encoding").value_or("UTF8");
        spec.extensions = item.ListOfStrings("extensions");
        if (auto login = item.Map("login")) {
          PgEndpoint connection;
          connection.user = login->RequiredString("user");
          auto password = ReadPassword(*login);
          connection.password = password ? *password : Secret();
          connection.dbname = spec.database;
          login->Finish();
          spec.login = std::move(connection);
        }
        item.Finish();
        for (const auto& other : tenants) {
          if (other.database == spec.database) {
            item.Fail("database", "tenant \"" + spec.database + "\" is declared twice");
          }
        }
        tenants.push_back(std::move(spec));
      }
      if (tenants.empty())
        settings.params->FailHere("pg_tenants: `tenants:` must list at least one");
      settings.params->Finish();
    }
    // Only now: an error in the params is the one to report first.
    RequireTarget(settings, cluster, "pg_tenants: no postgres cluster");
    if (tenants.empty()) return MakeError(ErrorCode::kConfig, "pg_tenants: no tenants declared");
    return std::unique_ptr<Probe>(std::make_unique<PgTenantsProbe>(
        cluster->name, PgTopologySource::For(*cluster, config), std::move(tenants), isolation));
  });
}

}  // namespace dbcanary
