// libFuzzer target: the PgBouncer admin console row parser (probes/pooler/pgbouncer_rows.h).
// The input is a table in the text form psql -A prints: a header line of column names, then one
// line per row, cells separated by '|', "\N" for NULL; rows are padded or cut to the header's
// width (libpq results are always rectangular). The same table goes through every Interpret*
// function, as if it were the answer to each SHOW. Checks, beyond "no crash":
//   - an Interpret* function that fails leaves the result unchanged (documented contract);
//   - every sample belongs to a described family (no undeclared metric reaches /metrics);
//   - every sample value is a number the exposition can render (no crash there either).
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/families.h"
#include "probes/pooler/pgbouncer_rows.h"

namespace {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t end = text.find(separator);
    parts.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return parts;
}

dbcanary::PgTable DecodeTable(std::string_view input) {
  std::vector<std::string_view> lines = Split(input, '\n');
  std::vector<std::string> columns;
  for (std::string_view name : Split(lines[0], '|')) columns.emplace_back(name);
  std::vector<std::vector<dbcanary::PgValue>> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<dbcanary::PgValue> row;
    for (std::string_view cell : Split(lines[i], '|')) {
      if (cell == "\\N") {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(cell));
      }
    }
    row.resize(columns.size());
    rows.push_back(std::move(row));
  }
  return dbcanary::PgTable(std::move(columns), std::move(rows));
}

// Runs `interpret`; on error the result must be as it was.
template <typename F>
void Checked(dbcanary::ProbeResult& out, F&& interpret) {
  const size_t samples = out.samples.size();
  const size_t expectations = out.expectations.size();
  const bool ok = interpret();
  if (!ok && (out.samples.size() != samples || out.expectations.size() != expectations)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const dbcanary::PgTable table =
      DecodeTable(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string target = "fuzz";
  dbcanary::ProbeResult out;
  dbcanary::PgBouncerObserved observed;
  std::optional<dbcanary::PgBouncerSettings> settings;

  Checked(out, [&] { return dbcanary::InterpretPools(target, table, out, observed).has_value(); });
  Checked(out, [&] { return dbcanary::InterpretStats(target, table, out).has_value(); });
  Checked(out, [&] { return dbcanary::InterpretLists(target, table, out).has_value(); });
  Checked(out, [&] {
    auto config = dbcanary::InterpretConfig(target, table, out);
    if (config.has_value()) settings = *config;
    return config.has_value();
  });
  Checked(out, [&] {
    return dbcanary::InterpretDatabases(target, table, settings ? settings->pool_mode : "", out,
                                        observed)
        .has_value();
  });
  Checked(out, [&] { return dbcanary::InterpretVersion(target, table, out).has_value(); });

  dbcanary::PgBouncerExpect expect;
  expect.pool_mode = "transaction";
  expect.max_client_conn = 100;
  expect.default_pool_size = 20;
  expect.max_db_connections = 0;
  expect.database = "app";
  expect.max_wait_seconds = 1;
  dbcanary::AppendPgBouncerExpectations(target, expect, settings, observed, out);

  std::set<std::string, std::less<>> described;
  dbcanary::FamilyBuilder families;
  for (const auto& desc : dbcanary::PgBouncerMetricDescs()) {
    described.insert(desc.name);
    families.Describe(desc);
  }
  for (const auto& sample : out.samples) {
    if (!described.contains(sample.name)) std::abort();
    families.Add(sample);
  }
  std::string text;
  dbcanary::AppendText(families.Take(), text);
  return 0;
}
