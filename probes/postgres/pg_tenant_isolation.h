#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clients/pg/pg_session.h"
#include "probes/postgres/pg_tenants_probe.h"
#include "probes/probe.h"

namespace dbcanary {

// The isolation half of pg_tenants (`isolation: true`): who else may reach a tenant's database.
// Read as the monitoring role (PUBLIC's privileges) and as each tenant's own login (the other
// tenants' databases must refuse it; its own must let it create).

// $1 is a text[] literal of the tenant databases. `public` names the PUBLIC pseudo-role.
inline constexpr char kPgTenantPublicDatabaseQuery[] =
    "SELECT datname, has_database_privilege('public', oid, 'CONNECT') AS public_connect,"
    " has_database_privilege('public', oid, 'CREATE') AS public_create"
    " FROM pg_database WHERE datname = ANY($1::text[])";
// Run inside the tenant database; no row when it has no schema `public`.
inline constexpr char kPgTenantPublicSchemaQuery[] =
    "SELECT has_schema_privilege('public', oid, 'CREATE') AS public_create"
    " FROM pg_namespace WHERE nspname = 'public'";
// Run as the owner in its own database: rolled back, so nothing is left behind even when the
// session dies half-way (an open transaction ends with its connection).
inline constexpr char kPgTenantOwnerCreateCheck[] =
    "BEGIN; CREATE TABLE public.dbcanary_owner_create_check (id int); ROLLBACK";

struct TenantIsolationFacts {
  std::optional<bool> public_connect;          // PUBLIC holds CONNECT on the database
  std::optional<bool> public_create_database;  // PUBLIC holds CREATE on the database
  std::optional<bool> public_create_schema;    // PUBLIC holds CREATE on its schema public
  std::optional<bool> owner_can_create;        // set when the tenant's login was tried
  std::string owner_create_error;
  int other_logins_tried = 0;         // other tenants' roles that tried this database
  std::vector<std::string> admitted;  // ... and were let in
  bool other_logins_unknown = false;  // an attempt failed for another reason than a refusal
};

// PUBLIC's privileges on every existing tenant database (`exists[i]` says which) and on its
// schema public: one query as the monitoring role on `primary`, then one connection per
// database.
Status ReadPublicPrivileges(const PgEndpoint& primary, const std::vector<TenantSpec>& tenants,
                            const std::vector<bool>& exists, const ProbeContext& ctx,
                            std::vector<TenantIsolationFacts>& facts);

// Whether the tenant (an open session as its role in its own database) can create there.
void CheckOwnerCanCreate(PgSession& as_owner, const ProbeContext& ctx, TenantIsolationFacts& fact);

// Every tenant whose own login works (`own_login_ok[i]`) tries every other existing tenant
// database: a refusal (an authorization error) is what isolation wants.
Status TryOtherTenants(const PgEndpoint& primary, const std::vector<TenantSpec>& tenants,
                       const std::vector<bool>& exists, const std::vector<bool>& own_login_ok,
                       const ProbeContext& ctx, std::vector<TenantIsolationFacts>& facts);

// `tenant_public_connect`, `tenant_public_create`, `tenant_isolation`, `tenant_owner_can_create`
// (target = database) for what could be observed.
void ReportTenantIsolation(const TenantSpec& spec, const TenantIsolationFacts& facts,
                           ProbeResult& result);

}  // namespace dbcanary
