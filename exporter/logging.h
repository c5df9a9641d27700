#pragma once

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"

namespace dbcanary {

enum class LogFormat { kText, kJson };

// Formats one line per message, after passing the message through RedactSecrets():
//   text: 2026-11-26T12:00:00.123Z info [pg_replication/shared-postgres] message
//   json: {"ts":"2026-11-26T12:00:00.123Z","level":"info","logger":"...","msg":"..."}
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Applies `exporter.log` (format, level). The first call installs the process-wide
// stderr sink and makes the "dbcanary" logger spdlog's default logger, so even a bare
// spdlog::info() is redacted. Later calls (reloads) only swap the format and level.
void ConfigureLogging(const ExporterSettings& settings);

// The daemon's own logger ("dbcanary").
std::shared_ptr<spdlog::logger> MainLogger();

// A logger named "<kind>/<target>" writing to the shared sink at the configured level.
std::shared_ptr<spdlog::logger> ProbeLogger(std::string_view kind, std::string_view target);

// Escapes `text` for the inside of a JSON string (quotes, backslashes, control characters).
void AppendJsonEscaped(std::string_view text, std::string& out);

}  // namespace dbcanary
