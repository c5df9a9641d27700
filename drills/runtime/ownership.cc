#include "drills/runtime/ownership.h"

#include <fmt/format.h>

#include <regex>

namespace dbcanary {
namespace {

// A literal inside single quotes. The texts quoted here are fixed strings and validated names;
// doubling the quotes still keeps any of them from ending the literal.
std::string Literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// Raised when a name is taken by an object without the marker: object_not_in_prerequisite_state.
std::string RaiseForeign(std::string_view table, std::string_view comment) {
  return fmt::format(
      "RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = {}",
      Literal(fmt::format("table {} exists without the dbcanary ownership marker (COMMENT '{}'); "
                          "the drill leaves it alone: drop or rename it, or choose another name",
                          table, comment)));
}

Result<Ownership> OwnershipOf(PgSession& session, const std::string& sql, std::string_view name,
                              std::string_view comment, const Deadline& deadline) {
  auto rows = session.QueryParams(sql, {std::string(name)}, deadline);
  if (!rows) return rows.error();
  if (rows->empty()) return Ownership::kAbsent;
  auto present = rows->Bool(0, "present");
  if (!present) return present.error();
  if (!present->value_or(false)) return Ownership::kAbsent;
  auto marker = rows->Text(0, "comment");
  if (!marker) return marker.error();
  return marker->has_value() && **marker == comment ? Ownership::kOwned : Ownership::kForeign;
}

}  // namespace

bool IsDrillSqlName(std::string_view name) {
  static const std::regex kName("dbcanary_[a-z0-9_]{1,54}");
  return std::regex_match(name.begin(), name.end(), kName);
}

std::string DrillSqlNameRule() {
  return "must start with dbcanary_ and continue with [a-z0-9_] (at most 63 characters): drills "
         "create and drop only objects of their own";
}

std::string OwnershipComment(std::string_view drill, std::string_view what) {
  return fmt::format("dbcanary {} scratch {}", drill, what);
}

std::string EnsureOwnedTableSql(std::string_view table, std::string_view columns,
                                std::string_view comment) {
  return fmt::format(
      "DO $dbcanary$ BEGIN "
      "IF to_regclass({0}) IS NULL THEN CREATE TABLE {1} ({2}); COMMENT ON TABLE {1} IS {3}; "
      "ELSIF obj_description(to_regclass({0}), 'pg_class') IS DISTINCT FROM {3} THEN {4}; "
      "END IF; END $dbcanary$",
      Literal(table), table, columns, Literal(comment), RaiseForeign(table, comment));
}

std::string GuardedTableSql(std::string_view table, std::string_view comment,
                            std::string_view statement) {
  return fmt::format(
      "DO $dbcanary$ BEGIN "
      "IF obj_description(to_regclass({0}), 'pg_class') IS DISTINCT FROM {1} THEN {2}; END IF; "
      "EXECUTE {3}; END $dbcanary$",
      Literal(table), Literal(comment), RaiseForeign(table, comment), Literal(statement));
}

std::string DropOwnedTableSql(std::string_view table, std::string_view comment) {
  return fmt::format(
      "DO $dbcanary$ BEGIN "
      "IF obj_description(to_regclass({0}), 'pg_class') = {2} THEN DROP TABLE {1}; END IF; "
      "END $dbcanary$",
      Literal(table), table, Literal(comment));
}

Result<Ownership> TableOwnership(PgSession& session, std::string_view table,
                                 std::string_view comment, const Deadline& deadline) {
  return OwnershipOf(session,
                     "SELECT to_regclass($1) IS NOT NULL AS present, "
                     "obj_description(to_regclass($1), 'pg_class') AS comment",
                     table, comment, deadline);
}

Result<Ownership> DatabaseOwnership(PgSession& session, std::string_view database,
                                    std::string_view comment, const Deadline& deadline) {
  return OwnershipOf(session,
                     "SELECT true AS present, shobj_description(oid, 'pg_database') AS comment "
                     "FROM pg_database WHERE datname = $1",
                     database, comment, deadline);
}

std::string EscapeGlob(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool HasOwnerLabel(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  const auto labels = metadata->find("labels");
  if (labels == metadata->end() || !labels->is_object()) return false;
  const auto owner = labels->find(std::string(kOwnerLabel));
  return owner != labels->end() && owner->is_string() && *owner == kOwnerLabelValue;
}

Status DeleteOwnedKubeObject(const kube::Client& client, const kube::Resource& resource,
                             const std::string& name, const Deadline& deadline) {
  auto object = client.Get(resource, name, deadline);
  if (!object) {
    if (object.error().cause.http_status == 404) return Ok{};
    return object.error();
  }
  if (!HasOwnerLabel(*object)) {
    return MakeError(ErrorCode::kUnexpected,
                     kube::Describe(resource, name) + " exists without the label " +
                         std::string(kOwnerLabel) + "=" + std::string(kOwnerLabelValue) +
                         "; the drill leaves it alone");
  }
  Status deleted = client.Delete(resource, name, deadline);
  if (!deleted && deleted.error().cause.http_status != 404) return deleted.error();
  return Ok{};
}

}  // namespace dbcanary
