list(APPEND DBCANARY_PROBE_SOURCES
  postgres/pg_connection.cc
  postgres/pg_replication_rows.cc
  postgres/pg_replication_probe.cc
)
