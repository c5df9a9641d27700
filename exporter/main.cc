#include <iostream>
#include <string>
#include <vector>

#include "exporter/daemon/cli.h"
#include "probes/probe.h"

int main(int argc, char** argv) {
  dbcanary::ProbeRegistry registry;
  dbcanary::RegisterBuiltinProbes(registry);
  std::vector<std::string> args(argv + 1, argv + argc);
  return dbcanary::RunCli(args, {registry, std::cout, std::cerr});
}
