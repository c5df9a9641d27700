#include "tests/integration/harness/exporter_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "tests/unit/loopback.h"

namespace dbcanary::testing {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(0);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

HttpResponse HttpRequest(int port, const std::string& method, const std::string& path,
                         std::chrono::milliseconds timeout, const std::string& headers) {
  HttpResponse response;
  auto start = Clock::now();
  auto deadline = start + timeout;
  auto remaining_ms = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in address = Loopback(port);
  ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  pollfd waiter{fd, POLLOUT, 0};
  if (::poll(&waiter, 1, remaining_ms()) != 1) {
    ::close(fd);
    return response;
  }
  std::string request = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" +
                        "Content-Length: 0\r\nConnection: close\r\n" + headers + "\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return response;
  }
  std::string raw;
  char buffer[16384];
  while (true) {
    waiter = pollfd{fd, POLLIN, 0};
    if (::poll(&waiter, 1, remaining_ms()) != 1) break;
    ssize_t got = ::recv(fd, buffer, sizeof(buffer), 0);
    if (got <= 0) break;
    raw.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  response.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  size_t header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos) return response;
  response.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  response.headers = raw.substr(0, header_end);
  response.body = raw.substr(header_end + 4);
  return response;
}

int RunCommand(const std::string& command, const std::string& input, std::string* output) {
  char input_path[] = "/tmp/dbcanary-cmd-in-XXXXXX";
  int input_fd = ::mkstemp(input_path);
  if (input_fd < 0) return -1;
  if (::write(input_fd, input.data(), input.size()) < 0) {
    ::close(input_fd);
    return -1;
  }
  ::close(input_fd);
  std::string full = "(" + command + ") < " + input_path + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  std::string collected;
  char buffer[4096];
  size_t got = 0;
  while (pipe != nullptr && (got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    collected.append(buffer, got);
  }
  int status = pipe != nullptr ? ::pclose(pipe) : -1;
  ::unlink(input_path);
  if (output != nullptr) *output = collected;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ExporterProcess::ExporterProcess(std::vector<std::string> args,
                                 std::map<std::string, std::string> env, int port) {
  port_ = port != 0 ? port : FreePort();
  char log_path[] = "/tmp/dbcanary-exporter-log-XXXXXX";
  int log_fd = ::mkstemp(log_path);
  log_path_ = log_path;
  args.push_back("--web.listen-address");
  args.push_back("127.0.0.1:" + std::to_string(port_));
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    std::string binary = DBCANARY_BINARY;
    argv.push_back(binary.data());
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::_Exit(127);
  }
  ::close(log_fd);
}

ExporterProcess::~ExporterProcess() {
  if (pid_ > 0 && exit_status_ == -1) Stop(std::chrono::seconds(5));
  ::unlink(log_path_.c_str());
}

bool ExporterProcess::WaitReady(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!Running()) return false;
    if (HttpRequest(port_, "GET", "/readyz", std::chrono::milliseconds(500)).status == 200) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string ExporterProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool ExporterProcess::Running() {
  if (exit_status_ != -1) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void ExporterProcess::Signal(int signal) { ::kill(pid_, signal); }

int ExporterProcess::Stop(std::chrono::milliseconds wait, double* seconds_taken) {
  auto start = Clock::now();
  if (Running()) ::kill(pid_, SIGTERM);
  while (Running() && Clock::now() - start < wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (seconds_taken != nullptr) {
    *seconds_taken = std::chrono::duration<double>(Clock::now() - start).count();
  }
  if (Running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    exit_status_ = -2;
    return -1;
  }
  return exit_status_;
}

double SampleValue(const std::string& body, const std::string& series) {
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace dbcanary::testing
