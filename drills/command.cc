#include "drills/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>

namespace dbcanary {
namespace {

void Append(std::string& out, const char* data, size_t size) {
  out.append(data, size);
  if (out.size() > 2 * kMaxDrillCommandOutputBytes)
    out.erase(0, out.size() - kMaxDrillCommandOutputBytes);
}

// Waits up to `budget` for the child to exit; true when reaped.
bool Reap(pid_t pid, int* status, std::chrono::milliseconds budget) {
  auto until = SteadyClock::now() + budget;
  for (;;) {
    pid_t done = ::waitpid(pid, status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) return true;
    if (SteadyClock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// SIGTERM to the child's whole process group (its traps run); SIGKILL after the grace period
// when it has not exited.
void Terminate(pid_t pid, int* status) {
  ::kill(-pid, SIGTERM);
  if (!Reap(pid, status, kDrillCommandTermGrace)) {
    ::kill(-pid, SIGKILL);
    Reap(pid, status, std::chrono::seconds(5));
  }
}

// argv and a minimal environment (PATH, LANG and HOME of ours, then `env`, which overrides) as
// execvpe takes them: the daemon's own environment (credentials passed to it, KUBECONFIG...)
// does not leak into drill commands. Everything the child needs is built before fork: after
// fork only async-signal-safe calls.
class ExecImage {
 public:
  ExecImage(const std::vector<std::string>& argv,
            const std::vector<std::pair<std::string, std::string>>& env)
      : args_(argv) {
    auto overridden = [&env](std::string_view key) {
      for (const auto& [name, value] : env) {
        if (name == key) return true;
      }
      return false;
    };
    for (const char* key : {"PATH", "LANG", "HOME"}) {
      const char* value = std::getenv(key);
      if (std::string_view(key) == "PATH" && value == nullptr)
        value = "/usr/local/bin:/usr/bin:/bin";
      if (value != nullptr && !overridden(key))
        env_strings_.push_back(std::string(key) + "=" + value);
    }
    for (const auto& [key, value] : env) env_strings_.push_back(key + "=" + value);
    for (auto& entry : env_strings_) envp_.push_back(entry.data());
    envp_.push_back(nullptr);
    for (auto& arg : args_) argp_.push_back(arg.data());
    argp_.push_back(nullptr);
  }
  ExecImage(const ExecImage&) = delete;
  ExecImage& operator=(const ExecImage&) = delete;

  // In the forked child: own process group, stdin from /dev/null, stdout and stderr into
  // `out_fd`, then exec (exit code 127 with the reason in the output when that fails).
  [[noreturn]] void ExecInChild(int out_fd) const {
    ::setpgid(0, 0);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    ResetSignals();
    ::execvpe(argp_[0], argp_.data(), envp_.data());
    const char message[] = "exec failed: command not found or not executable\n";
    (void)!::write(STDOUT_FILENO, message, sizeof(message) - 1);
    ::_exit(127);
  }

 private:
  // The daemon blocks SIGTERM/SIGINT/SIGHUP for its signal thread and ignores SIGPIPE; an exec'd
  // program inherits both the mask and ignored dispositions. The child starts clean, so that
  // SIGTERM reaches it (its traps run) and the daemons it may start can be stopped.
  void ResetSignals() const {
    ::sigprocmask(SIG_SETMASK, &empty_mask_, nullptr);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    default_action.sa_mask = empty_mask_;
    for (int signal = 1; signal < NSIG; ++signal) {
      if (signal != SIGKILL && signal != SIGSTOP) ::sigaction(signal, &default_action, nullptr);
    }
  }

  std::vector<std::string> args_;
  std::vector<std::string> env_strings_;
  std::vector<char*> argp_;
  std::vector<char*> envp_;
  sigset_t empty_mask_ = [] {
    sigset_t mask;
    sigemptyset(&mask);
    return mask;
  }();
};

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // the read end of the child's stdout+stderr pipe
  SteadyClock::time_point start;
};

Result<Child> Spawn(const ExecImage& image) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  Child child;
  child.start = SteadyClock::now();
  child.pid = ::fork();
  if (child.pid < 0) {
    int saved = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return MakeError(ErrorCode::kInternal, std::string("fork: ") + std::strerror(saved));
  }
  if (child.pid == 0) image.ExecInChild(fds[1]);
  ::setpgid(child.pid, child.pid);  // also from the parent: no race with the kill below
  ::close(fds[1]);
  child.out_fd = fds[0];
  return child;
}

enum class Drained { kClosed, kTimedOut, kStopped };

// Reads the child's output into `output` until every writer closed the pipe (or poll fails),
// the deadline passes or `stop` is requested.
Drained Drain(int fd, Deadline deadline, const std::stop_token& stop, std::string& output) {
  char buffer[8192];
  for (;;) {
    if (deadline.Expired() || stop.stop_requested()) {
      // A drill's stop token also trips at its deadline: only a stop before it is a shutdown.
      return deadline.Expired() ? Drained::kTimedOut : Drained::kStopped;
    }
    pollfd pfd{fd, POLLIN, 0};
    int ready =
        ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(100, deadline.Remaining().count() + 1)));
    if (ready < 0 && errno != EINTR) return Drained::kClosed;
    if (ready <= 0) continue;
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      Append(output, buffer, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      return Drained::kClosed;  // every writer closed: the command (and its children) are done
    }
  }
}

Error CutShort(const std::vector<std::string>& argv, const DrillCommandOutcome& outcome,
               bool stopped) {
  return MakeError(stopped ? ErrorCode::kStopped : ErrorCode::kTimeout,
                   "command \"" + DescribeCommand(argv) + "\" " +
                       (stopped ? "stopped" : "timed out") + " after " +
                       std::to_string(static_cast<int>(outcome.seconds)) +
                       " s; last output: " + LastLines(outcome.output, 3));
}

}  // namespace

std::string DescribeCommand(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

std::string LastLines(const std::string& text, size_t max_lines) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  size_t pos = end;
  for (size_t lines = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++lines == max_lines) break;
  }
  return text.substr(pos, end - pos);
}

Result<DrillCommandOutcome> RunDrillCommand(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& env, Deadline deadline,
    std::stop_token stop) {
  if (argv.empty() || argv[0].empty()) return MakeError(ErrorCode::kConfig, "empty command");
  const ExecImage image(argv, env);
  auto child = Spawn(image);
  if (!child) return child.error();
  DrillCommandOutcome outcome;
  Drained drained = Drain(child->out_fd, deadline, stop, outcome.output);
  ::close(child->out_fd);
  int status = 0;
  if (drained != Drained::kClosed) {
    Terminate(child->pid, &status);
  } else if (!Reap(child->pid, &status, deadline.Remaining())) {
    // The pipe closed: wait for the exit status (a daemonizing child may close it early).
    Terminate(child->pid, &status);
    drained = Drained::kTimedOut;
  }
  outcome.seconds = SecondsSince(child->start);
  if (outcome.output.size() > kMaxDrillCommandOutputBytes) {
    outcome.output.erase(0, outcome.output.size() - kMaxDrillCommandOutputBytes);
  }
  if (drained != Drained::kClosed) return CutShort(argv, outcome, drained == Drained::kStopped);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

}  // namespace dbcanary
