list(APPEND DBCANARY_PROBE_SOURCES
  postgres/pg_replication_rows.cc
  postgres/pg_replication_probe.cc
  postgres/pg_heartbeat_rows.cc
  postgres/pg_heartbeat_probe.cc
  postgres/pg_sync_commit_rows.cc
  postgres/pg_sync_commit_probe.cc
  postgres/pg_tls_probe.cc
  postgres/pg_tenants_probe.cc
  postgres/pg_archiver_probe.cc
  postgres/pg_hazards_rows.cc
  postgres/pg_hazards_probe.cc
  postgres/pg_tenant_isolation.cc
  postgres/pg_instance_probe.cc
  postgres/pg_topology.cc
  postgres/pg_topology_source.cc
)
