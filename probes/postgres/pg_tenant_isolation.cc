#include "probes/postgres/pg_tenant_isolation.h"

#include <limits>
#include <map>
#include <utility>

namespace dbcanary {
namespace {

// A pass/fail check whose observation may be missing (NaN: fails as "unknown").
ExpectationResult Flag(std::string check, const std::string& target, std::optional<bool> ok,
                       std::string ok_text, std::string bad_text, std::string expected) {
  const double observed = ok ? (*ok ? 1.0 : 0.0) : std::numeric_limits<double>::quiet_NaN();
  ExpectationResult result = ExpectNumber(std::move(check), target, observed, "==", 1);
  if (ok) result.observed_text = *ok ? std::move(ok_text) : std::move(bad_text);
  result.expected_text = std::move(expected);
  return result;
}

}  // namespace

Status ReadPublicPrivileges(const PgEndpoint& primary, const std::vector<TenantSpec>& tenants,
                            const std::vector<bool>& exists, const ProbeContext& ctx,
                            std::vector<TenantIsolationFacts>& facts) {
  PgConnectOptions options;
  options.statement_timeout = ctx.deadline.Remaining();
  std::vector<std::string> names;
  names.reserve(tenants.size());
  for (const auto& tenant : tenants) names.push_back(tenant.database);
  {
    auto session = PgSession::Connect(primary, options, ctx.deadline, ctx.stop);
    if (!session) return session.error();
    auto table = session->QueryParams(kPgTenantPublicDatabaseQuery, {TextArrayLiteral(names)},
                                      ctx.deadline, ctx.stop);
    session->Close();
    if (!table) return table.error();
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < tenants.size(); ++i) index[tenants[i].database] = i;
    for (size_t row = 0; row < table->size(); ++row) {
      auto name = table->Text(row, "datname");
      auto connect = table->Bool(row, "public_connect");
      auto create = table->Bool(row, "public_create");
      if (!name) return name.error();
      if (!connect) return connect.error();
      if (!create) return create.error();
      auto found = index.find(name->value_or(""));
      if (found == index.end()) continue;
      facts[found->second].public_connect = connect->value_or(false);
      facts[found->second].public_create_database = create->value_or(false);
    }
  }
  for (size_t i = 0; i < tenants.size(); ++i) {
    if (!exists[i]) continue;
    PgEndpoint in_database = primary;
    in_database.dbname = tenants[i].database;
    auto session = PgSession::Connect(in_database, options, ctx.deadline, ctx.stop);
    if (!session) return session.error();
    auto table = session->Query(kPgTenantPublicSchemaQuery, ctx.deadline, ctx.stop);
    session->Close();
    if (!table) return table.error();
    if (table->empty()) {
      facts[i].public_create_schema = false;  // no schema public: nothing to create in
      continue;
    }
    auto create = table->Bool(0, "public_create");
    if (!create) return create.error();
    facts[i].public_create_schema = create->value_or(false);
  }
  return Ok{};
}

void CheckOwnerCanCreate(PgSession& as_owner, const ProbeContext& ctx, TenantIsolationFacts& fact) {
  auto created = as_owner.Query(kPgTenantOwnerCreateCheck, ctx.deadline, ctx.stop);
  fact.owner_can_create = static_cast<bool>(created);
  if (!created) fact.owner_create_error = created.error().message;
}

Status TryOtherTenants(const PgEndpoint& primary, const std::vector<TenantSpec>& tenants,
                       const std::vector<bool>& exists, const std::vector<bool>& own_login_ok,
                       const ProbeContext& ctx, std::vector<TenantIsolationFacts>& facts) {
  std::optional<Error> first_error;
  for (size_t from = 0; from < tenants.size(); ++from) {
    if (!tenants[from].login || !own_login_ok[from]) continue;
    for (size_t to = 0; to < tenants.size(); ++to) {
      if (to == from || !exists[to]) continue;
      PgEndpoint as_other = primary;
      as_other.user = tenants[from].login->user;
      as_other.password = tenants[from].login->password;
      as_other.dbname = tenants[to].database;
      auto session = PgSession::Connect(as_other, PgConnectOptions{}, ctx.deadline, ctx.stop);
      ++facts[to].other_logins_tried;
      if (session) {
        facts[to].admitted.push_back(tenants[from].login->user);
        session->Close();
      } else if (session.error().code != ErrorCode::kAuth) {
        // Not a refusal: the server could not be asked, so isolation is unknown.
        facts[to].other_logins_unknown = true;
        if (!first_error) first_error = session.error();
      }
    }
  }
  if (first_error) return *first_error;
  return Ok{};
}

void ReportTenantIsolation(const TenantSpec& spec, const TenantIsolationFacts& facts,
                           ProbeResult& result) {
  const std::string& database = spec.database;
  std::optional<bool> no_public_connect;
  if (facts.public_connect) no_public_connect = !*facts.public_connect;
  result.expectations.push_back(Flag("tenant_public_connect", database, no_public_connect,
                                     "PUBLIC has no CONNECT", "PUBLIC holds CONNECT",
                                     "PUBLIC holds no CONNECT"));

  std::optional<bool> no_public_create;
  std::string create_text = "PUBLIC has no CREATE";
  if (facts.public_create_database && facts.public_create_schema) {
    no_public_create = !*facts.public_create_database && !*facts.public_create_schema;
    if (*facts.public_create_database) {
      create_text = "PUBLIC holds CREATE on the database";
    } else if (*facts.public_create_schema) {
      create_text = "PUBLIC holds CREATE on schema public";
    }
  }
  result.expectations.push_back(Flag("tenant_public_create", database, no_public_create,
                                     create_text, create_text,
                                     "PUBLIC holds no CREATE on the database or schema public"));

  if (facts.other_logins_tried > 0) {
    std::optional<bool> isolated;
    std::string admitted;
    for (const auto& role : facts.admitted) admitted += (admitted.empty() ? "" : ", ") + role;
    if (!facts.admitted.empty()) {
      isolated = false;
    } else if (!facts.other_logins_unknown) {
      isolated = true;
    }
    result.expectations.push_back(
        Flag("tenant_isolation", database, isolated,
             "refused " + std::to_string(facts.other_logins_tried) + " other tenant roles",
             "admitted " + admitted, "every other tenant's role refused"));
  }
  if (facts.owner_can_create) {
    result.expectations.push_back(
        Flag("tenant_owner_can_create", database, facts.owner_can_create, "created (rolled back)",
             "refused: " + facts.owner_create_error, "the owner can create in its database"));
  }
}

}  // namespace dbcanary
