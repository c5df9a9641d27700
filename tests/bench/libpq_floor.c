/* The resident-memory floor of any exporter built on Debian's libpq and OpenSSL 3:
 * connect once with the given conninfo (the benchmark passes sslmode=require), run one
 * query, keep the connection open and sleep until killed. scrape_bench.sh builds it with
 * cc and prints its RSS, PSS and USS beside the exporters'.
 *
 *   libpq_floor 'host=... port=... dbname=... user=... sslmode=require'
 *   (the password comes from PGPASSWORD, as for psql)
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: libpq_floor CONNINFO\n");
    return 2;
  }
  PGconn* connection = PQconnectdb(argv[1]);
  if (PQstatus(connection) != CONNECTION_OK) {
    fprintf(stderr, "libpq_floor: connect failed: %s", PQerrorMessage(connection));
    PQfinish(connection);
    return 1;
  }
  PGresult* result = PQexec(connection, "SELECT 1");
  int ok = PQresultStatus(result) == PGRES_TUPLES_OK && PQsslInUse(connection);
  PQclear(result);
  if (!ok) {
    fprintf(stderr, "libpq_floor: query failed or connection not encrypted\n");
    PQfinish(connection);
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
