# Sources of the benchmark drill area, appended to DBCANARY_DRILL_SOURCES (paths relative to drills/).
list(APPEND DBCANARY_DRILL_SOURCES
  benchmark/bench_baseline.cc
  benchmark/bench_leg.cc
  benchmark/bench_stats.cc
  benchmark/pg_benchmark_drill.cc
  benchmark/dragonfly_benchmark_drill.cc)
