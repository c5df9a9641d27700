#include "drills/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

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
  // Everything the child needs is built before fork: after fork only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    bool overridden = false;
    for (const auto& [key, value] : env) {
      if (entry.compare(0, key.size() + 1, key + "=") == 0) overridden = true;
    }
    if (!overridden) env_strings.push_back(std::move(entry));
  }
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& arg : args) argp.push_back(arg.data());
  argp.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  auto start = SteadyClock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    int saved = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return MakeError(ErrorCode::kInternal, std::string("fork: ") + std::strerror(saved));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvpe(argp[0], argp.data(), envp.data());
    const char message[] = "exec failed: command not found or not executable\n";
    (void)!::write(STDOUT_FILENO, message, sizeof(message) - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with the kill below
  ::close(fds[1]);
  DrillCommandOutcome outcome;
  bool timed_out = false;
  // A drill's stop token also trips at its deadline: only a stop before it is a shutdown.
  bool stopped = false;
  bool open = true;
  char buffer[8192];
  while (open) {
    if (deadline.Expired() || stop.stop_requested()) {
      timed_out = true;
      stopped = !deadline.Expired();
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    int ready =
        ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(100, deadline.Remaining().count() + 1)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n > 0) {
      Append(outcome.output, buffer, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      open = false;  // every writer closed: the command (and its children) are done with it
    }
  }
  ::close(fds[0]);
  int status = 0;
  if (timed_out) {
    ::kill(-pid, SIGTERM);
    if (!Reap(pid, &status, std::chrono::seconds(2))) {
      ::kill(-pid, SIGKILL);
      Reap(pid, &status, std::chrono::seconds(5));
    }
  } else {
    // The pipe closed: wait for the exit status (a daemonizing child may close it early).
    if (!Reap(pid, &status, deadline.Remaining())) {
      ::kill(-pid, SIGTERM);
      if (!Reap(pid, &status, std::chrono::seconds(2))) {
        ::kill(-pid, SIGKILL);
        Reap(pid, &status, std::chrono::seconds(5));
      }
      timed_out = true;
    }
  }
  outcome.seconds = SecondsSince(start);
  if (outcome.output.size() > kMaxDrillCommandOutputBytes) {
    outcome.output.erase(0, outcome.output.size() - kMaxDrillCommandOutputBytes);
  }
  if (timed_out) {
    return MakeError(stopped ? ErrorCode::kStopped : ErrorCode::kTimeout,
                     "command \"" + DescribeCommand(argv) + "\" " +
                         (stopped ? "stopped" : "timed out") + " after " +
                         std::to_string(static_cast<int>(outcome.seconds)) +
                         " s; last output: " + LastLines(outcome.output, 3));
  }
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

}  // namespace dbcanary
