#pragma once

#include <span>
#include <string_view>

#include "core/acceptance_groups.h"

namespace dbcanary {

// Whether a kind names a probe (probes: { KIND: ... }) or a drill (drills.jobs.KIND).
enum class CheckSource { kProbe, kDrill };

struct KindGroup {
  CheckSource source;
  std::string_view kind;
  CheckGroup group;
};

// THE kind -> group table, including kinds that do not exist yet. One row per kind.
std::span<const KindGroup> KindGroups();
// The group of a probe or drill kind; kOther when it is not in the table.
CheckGroup GroupOfKind(CheckSource source, std::string_view kind);

std::string_view SourceName(CheckSource source);  // "probe" | "drill"

}  // namespace dbcanary
