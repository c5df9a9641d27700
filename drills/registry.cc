#include "drills/benchmark/dragonfly_benchmark_drill.h"
#include "drills/benchmark/pg_benchmark_drill.h"
#include "drills/drill.h"
#include "drills/failover/failover_drill.h"
#include "drills/persistence/dragonfly_persistence_drill.h"
#include "drills/restore/restore_drill.h"

namespace dbcanary {

void RegisterBuiltinDrills(DrillRegistry& registry) {
  (void)registry;
  registry.Add("failover", MakeFailoverDrill);
  registry.Add("restore", MakeRestoreDrill);
  registry.Add("dragonfly_persistence", MakeDragonflyPersistenceDrill);
  registry.Add("pg_benchmark", CreatePgBenchmarkDrill);
  registry.Add("dragonfly_benchmark", CreateDragonflyBenchmarkDrill);
}

}  // namespace dbcanary
