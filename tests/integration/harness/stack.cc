#include "tests/integration/harness/stack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace dbcanary::testing {
namespace {

std::string EnvKey(std::string_view component) {
  std::string key(component);
  for (char& c : key)
    c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return key;
}

}  // namespace

bool IntegrationRequired() {
  const char* value = std::getenv("DBCANARY_REQUIRE_INTEGRATION");
  return value != nullptr && std::string_view(value) == "1";
}

// ---------------------------------------------------------------------------------------------
// Stack

const Stack& Stack::Get() {
  static const Stack stack;
  return stack;
}

Stack::Stack() {
  const char* dir = std::getenv("DBCANARY_STACK_DIR");
  dir_ = dir != nullptr && *dir != '\0' ? dir : DBCANARY_TEST_STACK_DIR;
  std::ifstream in(dir_ + "/stack.env");
  if (!in) {
    reason_ = dir_ + "/stack.env not found (bring the stack up with deploy/local/stack.sh up)";
    return;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (!std::ifstream(ConfigPath())) {
    reason_ = ConfigPath() + " not found";
    return;
  }
  available_ = true;
}

std::string Stack::Env(std::string_view key) const {
  auto it = env_.find(key);
  return it == env_.end() ? std::string() : it->second;
}

int Stack::Port(std::string_view component) const {
  std::string value = Env("DBCANARY_STACK_PORT_" + EnvKey(component));
  return value.empty() ? 0 : std::atoi(value.c_str());
}

Result<std::shared_ptr<const Config>> Stack::LoadConfig() const {
  return LoadConfigFile(ConfigPath());
}

Status Stack::Script(const std::vector<std::string>& args, std::string* output,
                     std::chrono::seconds timeout) const {
  std::string script = Env("DBCANARY_STACK_SCRIPT");
  if (script.empty()) script = std::string(DBCANARY_SOURCE_DIR) + "/deploy/local/stack.sh";
  std::string command = script;
  for (const auto& arg : args) command += " " + arg;

  // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> env_strings;
  const std::map<std::string, std::string> overrides = {
      {"DBCANARY_STACK_DIR", dir_},
      {"DBCANARY_STACK_PORT_BASE", Env("DBCANARY_STACK_PORT_BASE")},
      {"DBCANARY_LISTEN_PORT", Env("DBCANARY_LISTEN_PORT")},
  };
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    if (overrides.count(key) == 0) env_strings.push_back(entry);
  }
  for (const auto& [key, value] : overrides) {
    if (!value.empty()) env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {script};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, command + ": pipe: " + std::strerror(errno));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return MakeError(ErrorCode::kInternal, command + ": fork: " + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string text;
  const auto until = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);  // our own child
      break;
    }
    pollfd entry{pipe_fds[0], POLLIN, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = text;
  if (timed_out) {
    return MakeError(ErrorCode::kTimeout, command + ": still running after " +
                                              std::to_string(timeout.count()) + " s\n" + text);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return MakeError(ErrorCode::kInternal, command + ": exit status " +
                                               std::to_string(WEXITSTATUS(status)) + "\n" + text);
  }
  return Ok{};
}

Result<PgTable> Stack::AdminQuery(const std::string& instance, const std::string& sql,
                                  const std::string& dbname,
                                  std::chrono::milliseconds timeout) const {
  const Deadline deadline = Deadline::In(timeout);
  PgEndpoint target;
  target.name = instance;
  target.host = Env("DBCANARY_STACK_PG_SOCKET_DIR");  // a directory: libpq uses the unix socket
  target.port = Port(instance);
  target.dbname = dbname;
  target.user = Env("DBCANARY_STACK_PG_SUPERUSER");
  target.sslmode = "disable";
  if (target.host.empty() || target.port == 0 || target.user.empty()) {
    return MakeError(ErrorCode::kConfig,
                     "stack.env lacks the socket, port or superuser of " + instance);
  }

  std::optional<Result<PgSession>> session;
  if (::geteuid() != 0) {
    // The stack runs its servers as the invoking user: peer authentication matches already.
    session.emplace(PgSession::Connect(target, {}, deadline));
  } else {
    // As root the servers run as DBCANARY_STACK_RUN_USER, and peer authentication compares the
    // socket peer's uid with the role. Linux records that uid per thread at connect(), and the
    // raw setresuid/setresgid syscalls (unlike glibc's wrappers) change only the calling thread:
    // a short-lived thread takes the run user's identity just to connect, and the rest of the
    // test process stays root. The connection itself is then used from this thread.
    std::string run_user = Env("DBCANARY_STACK_RUN_USER");
    passwd entry{};
    passwd* found = nullptr;
    char buffer[4096];
    if (::getpwnam_r(run_user.c_str(), &entry, buffer, sizeof(buffer), &found) != 0 ||
        found == nullptr) {
      return MakeError(ErrorCode::kConfig, "no OS user \"" + run_user + "\"");
    }
    const uid_t uid = entry.pw_uid;
    const gid_t gid = entry.pw_gid;
    std::thread([&] {
      if (::syscall(SYS_setresgid, -1, gid, -1) != 0 ||
          ::syscall(SYS_setresuid, -1, uid, -1) != 0) {
        session.emplace(MakeError(ErrorCode::kInternal, std::string("setresuid to ") + run_user +
                                                            ": " + std::strerror(errno)));
        return;
      }
      session.emplace(PgSession::Connect(target, {}, deadline));
    }).join();
  }
  if (!*session) return session->error();
  return (*session)->Query(sql, deadline);
}

// ---------------------------------------------------------------------------------------------
// StoppedComponents

Status StoppedComponents::Stop(const std::string& component) {
  stopped_.insert(component);  // even a failed stop may have stopped it halfway
  return Stack::Get().Stop(component);
}

Status StoppedComponents::Start(const std::string& component) {
  auto status = Stack::Get().Start(component);
  if (status) stopped_.erase(component);
  return status;
}

void StoppedComponents::RestoreAll() {
  for (const auto& component : std::set<std::string>(stopped_)) {
    auto status = Start(component);
    if (!status)
      ADD_FAILURE() << "could not restart " << component << ": " << status.error().message;
  }
}

// ---------------------------------------------------------------------------------------------
// FrozenComponent

FrozenComponent::FrozenComponent(const std::string& component) {
  const auto& stack = Stack::Get();
  const std::string key = EnvKey(component);
  std::string pidfile = stack.Env("DBCANARY_STACK_PIDFILE_" + key);
  if (pidfile.empty()) {
    std::string data = stack.Env("DBCANARY_STACK_PGDATA_" + key);
    if (!data.empty()) pidfile = data + "/postmaster.pid";
  }
  std::ifstream in(pidfile);
  int pid = 0;
  if (pidfile.empty() || !(in >> pid) || pid <= 1) {
    error_ = "no pid file for " + component + " (" + pidfile + ")";
    return;
  }
  if (::kill(pid, SIGSTOP) != 0) {
    error_ = "SIGSTOP " + std::to_string(pid) + ": " + std::strerror(errno);
    return;
  }
  pid_ = pid;
}

FrozenComponent::~FrozenComponent() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

// ---------------------------------------------------------------------------------------------
// Probes

spdlog::logger& TestLogger() {
  static auto logger = std::make_shared<spdlog::logger>(
      "dbcanary-test", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  return *logger;
}

Result<std::unique_ptr<Probe>> MakeProbe(const Config& config, std::string_view kind,
                                         std::string_view target) {
  for (const ProbeSettings* settings : config.AllProbes()) {
    if (settings->kind != kind || settings->target != target) continue;
    ProbeRegistry registry;
    RegisterBuiltinProbes(registry);
    return registry.Create(*settings, config);
  }
  return MakeError(ErrorCode::kConfig, "config has no " + std::string(kind) + " probe on \"" +
                                           std::string(target) + "\"");
}

TimedRun RunProbeOnce(Probe& probe, std::chrono::milliseconds timeout, std::stop_token stop) {
  // The clock starts before the deadline is set: a run that honours its deadline then measures
  // at least `timeout`, however long the host takes between the two lines.
  const auto started = SteadyClock::now();
  ProbeContext context{Deadline::In(timeout), std::move(stop), TestLogger()};
  TimedRun run;
  run.result = probe.Run(context);
  run.seconds = SecondsSince(started);
  return run;
}

std::optional<double> FindSample(const ProbeResult& result, std::string_view name, Labels labels) {
  std::sort(labels.begin(), labels.end());
  for (const auto& sample : result.samples) {
    if (sample.name != name) continue;
    Labels got = sample.labels;
    std::sort(got.begin(), got.end());
    if (got == labels) return sample.value;
  }
  return std::nullopt;
}

const ExpectationResult* FindExpectation(const ProbeResult& result, std::string_view check,
                                         std::string_view target) {
  for (const auto& expectation : result.expectations) {
    if (expectation.check == check && expectation.target == target) return &expectation;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Sockets

namespace {

int BindLoopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

}  // namespace

int UnusedLoopbackPort() {
  int port = 0;
  int fd = BindLoopback(&port);
  if (fd >= 0) ::close(fd);  // bound but never listened on: connects are refused
  return port;
}

SilentListener::SilentListener() {
  fd_ = BindLoopback(&port_);
  if (fd_ >= 0 && ::listen(fd_, 16) != 0) {
    ::close(fd_);
    fd_ = -1;
    port_ = 0;
  }
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) ::close(fd_);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::string WithoutDrillsSection(const std::string& yaml) {
  std::istringstream in(yaml);
  std::string out;
  std::string line;
  bool skipping = false;
  while (std::getline(in, line)) {
    bool top_level = !line.empty() && line[0] != ' ' && line[0] != '#';
    if (top_level) skipping = line.rfind("drills:", 0) == 0;
    if (!skipping) out += line + "\n";
  }
  return out;
}

}  // namespace dbcanary::testing
