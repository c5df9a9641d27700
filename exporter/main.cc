#include <malloc.h>

#include <iostream>
#include <string>
#include <vector>

#include "exporter/cli/cli.h"
#include "probes/probe.h"

int main(int argc, char** argv) {
  // glibc gives every thread that allocates its own arena (up to 8 per core); a probe
  // worker allocates little, so two arenas keep contention low and resident memory small.
  mallopt(M_ARENA_MAX, 2);
  dbcanary::ProbeRegistry registry;
  dbcanary::RegisterBuiltinProbes(registry);
  std::vector<std::string> args(argv + 1, argv + argc);
  return dbcanary::RunCli(args, {registry, std::cout, std::cerr});
}
