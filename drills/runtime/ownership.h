#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "clients/kube/client.h"
#include "clients/pg/pg_session.h"
#include "core/deadline.h"
#include "core/result.h"

// The one ownership rule for everything a drill creates or removes: a fixed name prefix
// (`dbcanary_` for SQL objects, `dbcanary-` or a `dbcanary` segment for Kubernetes objects,
// the configured key prefix for keys) AND an ownership marker checked right before any DROP,
// TRUNCATE, DELETE or UNLINK: a table or database COMMENT, the Kubernetes label
// app.kubernetes.io/managed-by=dbcanary, a key prefix escaped for SCAN. What lacks the marker
// is never touched, whatever its name: a namesake created by someone else is left alone.

namespace dbcanary {

inline constexpr std::string_view kDrillSqlPrefix = "dbcanary_";
inline constexpr std::string_view kOwnerLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kOwnerLabelValue = "dbcanary";

// Whether `name` may name a drill's SQL object: `dbcanary_` then [a-z0-9_], at most 63 bytes.
// Config readers refuse any other name, so no setting can point a drill at a tenant's table.
bool IsDrillSqlName(std::string_view name);
// The message config readers give for a name IsDrillSqlName refuses.
std::string DrillSqlNameRule();

// The COMMENT that marks a SQL object as the drill's: "dbcanary <drill> scratch <what>".
std::string OwnershipComment(std::string_view drill, std::string_view what);

// SQL for a table whose name passed IsDrillSqlName (or a schema-qualified one built of such
// names). Each is one statement (a DO block): the check and the action are atomic.
//   Creates the table with `columns` and marks it; an existing table must carry the marker,
//   otherwise the statement fails (SQLSTATE 55000) and the table is left alone.
std::string EnsureOwnedTableSql(std::string_view table, std::string_view columns,
                                std::string_view comment);
//   Runs `statement` (e.g. "TRUNCATE t", "DELETE FROM t") only when the table carries the
//   marker; fails (55000) otherwise.
std::string GuardedTableSql(std::string_view table, std::string_view comment,
                            std::string_view statement);
//   Drops the table only when it carries the marker; a table without it is left as it is.
std::string DropOwnedTableSql(std::string_view table, std::string_view comment);

// What a name holds: nothing, the drill's own object, or an object without the marker.
enum class Ownership { kAbsent, kOwned, kForeign };
Result<Ownership> TableOwnership(PgSession& session, std::string_view table,
                                 std::string_view comment, const Deadline& deadline);
Result<Ownership> DatabaseOwnership(PgSession& session, std::string_view database,
                                    std::string_view comment, const Deadline& deadline);

// `text` with the SCAN/KEYS glob specials (* ? [ ] \) escaped, so that a key prefix matches
// only itself.
std::string EscapeGlob(std::string_view text);

// Whether a Kubernetes object carries app.kubernetes.io/managed-by=dbcanary.
bool HasOwnerLabel(const nlohmann::json& object);
// Deletes `name` only when it carries the owner label: absent is Ok (nothing to do); present
// without the label is kUnexpected and nothing is deleted.
Status DeleteOwnedKubeObject(const kube::Client& client, const kube::Resource& resource,
                             const std::string& name, const Deadline& deadline);

}  // namespace dbcanary
