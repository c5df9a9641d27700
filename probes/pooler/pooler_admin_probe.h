#pragma once

#include <memory>
#include <vector>

#include "probes/pooler/pgbouncer_rows.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "pooler_admin", target: a poolers[] entry. Each run opens one connection to the pooler's
// PgBouncer admin console (simple query protocol only, as the console requires) and reads SHOW
// VERSION, CONFIG, POOLS, STATS, LISTS and DATABASES into dbcanary_pgbouncer_* samples, then
// compares the declared settings of `expect:` with what the pooler runs (drift).
// Params:
//   admin:  libpq settings of the console (ReadPgEndpoint keys); host, port, sslmode and the
//           TLS files default to the pooler's connection, dbname to "pgbouncer"; `user` and
//           `password_file`/`password` are the admin_users or stats_users credentials.
//   expect: pool_mode, max_client_conn, default_pool_size, max_db_connections, database (the
//           backend database the pooler routes to), max_wait_seconds; each one set becomes an
//           expectation of the same name (`pooler_database` for `database`).
// A SHOW whose answer lacks a required column fails the run (kProtocol naming the command and
// the column); the other commands are still read and exported.
Result<std::unique_ptr<Probe>> CreatePoolerAdminProbe(const ProbeSettings& settings,
                                                      const Config& config);

}  // namespace dbcanary
