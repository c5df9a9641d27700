#include "probes/dragonfly/dragonfly_basics_probe.h"
#include "probes/pooler/pooler_roundtrip_probe.h"
#include "probes/postgres/pg_replication_probe.h"
#include "probes/probe.h"

namespace dbcanary {

// Explicit on purpose: static-initializer self-registration is dropped by the linker
// for object files nothing references in a static library.
void RegisterBuiltinProbes(ProbeRegistry& registry) {
  registry.Add("pg_replication", CreatePgReplicationProbe);
  registry.Add("pooler_roundtrip", CreatePoolerRoundtripProbe);
  registry.Add("dragonfly_basics", CreateDragonflyBasicsProbe);
}

}  // namespace dbcanary
