#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_tenants", target: a postgres.clusters[] entry. Each run checks the declared tenant
// databases on the write endpoint (read_write, else the member found primary): existence, owner,
// encoding and size in one query, the declared extensions with one connection per existing
// database, and optionally a login with the tenant's own role (docs/probes/pg_tenants.md).
// With `isolation: true`, also who else may reach each database (probes/postgres/
// pg_tenant_isolation.h): PUBLIC's CONNECT and CREATE, the other tenants' logins, the owner's
// right to create.
Result<std::unique_ptr<Probe>> CreatePgTenantsProbe(const ProbeSettings& settings,
                                                    const Config& config);

inline constexpr std::string_view kPgTenantDatabaseExists = "dbcanary_pg_tenant_database_exists";
inline constexpr std::string_view kPgTenantDatabaseSize = "dbcanary_pg_tenant_database_size_bytes";
inline constexpr std::string_view kPgTenantExtensionInstalled =
    "dbcanary_pg_tenant_extension_installed";
inline constexpr std::string_view kPgTenantLoginSuccess = "dbcanary_pg_tenant_login_success";

// $1 is a text[] literal of the declared database names (see TextArrayLiteral).
inline constexpr char kPgTenantDatabasesQuery[] =
    "SELECT datname, pg_get_userbyid(datdba) AS owner,"
    " pg_encoding_to_char(encoding) AS encoding, pg_database_size(oid) AS size_bytes"
    " FROM pg_database WHERE datname = ANY($1::text[])";
inline constexpr char kPgTenantExtensionsQuery[] = "SELECT extname FROM pg_extension";

// One declared tenant.
struct TenantSpec {
  std::string database;
  std::string owner;
  std::string encoding = "UTF8";
  std::vector<std::string> extensions;
  // The tenant's own role on its database: user and password only; the run connects it to the
  // write endpoint of the moment.
  std::optional<PgEndpoint> login;
};

// What was observed about one tenant.
struct TenantFacts {
  bool exists = false;
  std::string owner;
  std::string encoding;
  double size_bytes = 0;
  bool extensions_read = false;       // false when its database could not be read
  std::set<std::string> extensions;   // installed in its database
  std::optional<bool> login_success;  // set when a login is declared
};

const std::vector<MetricDesc>& TenantMetricDescs();

// {"a","b\"c"}: PostgreSQL's array input syntax with every element quoted and escaped.
std::string TextArrayLiteral(const std::vector<std::string>& items);

// Samples and expectations (`tenant_database_exists`, `tenant_owner`, `tenant_encoding`,
// `tenant_extensions`, `tenant_login`; target = database name) for one tenant of cluster
// `target`.
void ReportTenant(const std::string& target, const TenantSpec& spec, const TenantFacts& facts,
                  ProbeResult& result);

}  // namespace dbcanary
