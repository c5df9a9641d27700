#pragma once

#include "exporter/cli/cli.h"
#include "exporter/cli/cli_args.h"

namespace dbcanary {

// One function per subcommand; cli.cc lists them with their flags and help.

// serve --config FILE [--web.listen-address HOST:PORT]
int RunServeCommand(const ParsedArgs& args, const CliContext& context);
// check-config FILE
int RunCheckConfigCommand(const ParsedArgs& args, const CliContext& context);
// validate --config FILE [--report DIR] [--junit FILE]
int RunValidateCommand(const ParsedArgs& args, const CliContext& context);

}  // namespace dbcanary
