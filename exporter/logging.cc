#include "exporter/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <mutex>

#include "config/secret.h"

namespace dbcanary {
namespace {

constexpr char kMainLoggerName[] = "dbcanary";

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    case spdlog::level::off:
    case spdlog::level::n_levels:
      break;
  }
  return "off";
}

// RFC 3339 in UTC with milliseconds, which both humans and VictoriaLogs parse.
void AppendTimestamp(std::chrono::system_clock::time_point time, std::string& out) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t whole = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char buffer[32];
  size_t length = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  out.append(buffer, length);
  out += fmt::format(".{:03}Z", millis.count());
}

// One log line per message: line breaks and other control bytes become \n, \r, \t or \xNN, and
// a backslash is doubled, so that a multi-line message (command output, a server error) cannot
// forge a line of its own.
void AppendTextEscaped(std::string_view text, std::string& out) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
}

class RedactingFormatter : public spdlog::formatter {
 public:
  explicit RedactingFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    // Redact before escaping: an escaped secret would no longer match its registered value.
    std::string message = RedactSecrets(std::string_view(msg.payload.data(), msg.payload.size()));
    std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    std::string line;
    line.reserve(message.size() + 96);
    if (format_ == LogFormat::kJson) {
      line += "{\"ts\":\"";
      AppendTimestamp(msg.time, line);
      line += "\",\"level\":\"";
      line += LevelName(msg.level);
      line += "\",\"logger\":\"";
      AppendJsonEscaped(logger, line);
      line += "\",\"msg\":\"";
      AppendJsonEscaped(message, line);
      line += "\"}\n";
    } else {
      AppendTimestamp(msg.time, line);
      line += ' ';
      line += LevelName(msg.level);
      line += " [";
      line += logger;
      line += "] ";
      AppendTextEscaped(message, line);
      line += '\n';
    }
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<RedactingFormatter>(format_);
  }

 private:
  LogFormat format_;
};

struct LoggingState {
  std::mutex mutex;
  spdlog::sink_ptr sink;
  std::shared_ptr<spdlog::logger> main;
  spdlog::level::level_enum level = spdlog::level::info;
};

LoggingState& State() {
  static LoggingState state;
  return state;
}

// Installs the sink and main logger on first use, with the defaults (text, info).
LoggingState& InitializedState() {
  auto& state = State();
  std::lock_guard lock(state.mutex);
  if (!state.sink) {
    state.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    state.sink->set_formatter(MakeLogFormatter(LogFormat::kText));
    state.main = std::make_shared<spdlog::logger>(kMainLoggerName, state.sink);
    state.main->set_level(state.level);
    // Warnings and errors must reach the terminal or journal before a crash or _Exit.
    state.main->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(state.main);
  }
  return state;
}

}  // namespace

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  return std::make_unique<RedactingFormatter>(format);
}

void AppendJsonEscaped(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
}

void ConfigureLogging(const ExporterSettings& settings) {
  auto& state = InitializedState();
  auto level = spdlog::level::from_str(settings.log_level);  // "warn" and "error" both parse
  auto format = settings.log_format == "json" ? LogFormat::kJson : LogFormat::kText;
  std::lock_guard lock(state.mutex);
  state.level = level;
  state.sink->set_formatter(MakeLogFormatter(format));
  state.main->set_level(level);
}

std::shared_ptr<spdlog::logger> MainLogger() { return InitializedState().main; }

std::shared_ptr<spdlog::logger> ProbeLogger(std::string_view kind, std::string_view target) {
  auto& state = InitializedState();
  std::lock_guard lock(state.mutex);
  // Not registered with spdlog's registry: a reload creates a logger of the same name again.
  auto logger = std::make_shared<spdlog::logger>(fmt::format("{}/{}", kind, target), state.sink);
  logger->set_level(state.level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace dbcanary
