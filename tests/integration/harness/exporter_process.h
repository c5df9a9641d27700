#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dbcanary::testing {

struct HttpResponse {
  int status = 0;  // 0 when no valid answer arrived
  std::string headers;
  std::string body;
  double seconds = 0;  // wall time of the request
};

// A plain HTTP/1.0 request over a loopback socket, bounded by `timeout`. `headers`: extra
// header lines, each ending in \r\n.
HttpResponse HttpRequest(int port, const std::string& method, const std::string& path,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5),
                         const std::string& headers = "");

// A TCP port that was free a moment ago on 127.0.0.1.
int FreePort();

// Runs `command` through /bin/sh, feeding `input` on stdin; returns the exit code and
// fills `output` with stdout+stderr.
int RunCommand(const std::string& command, const std::string& input, std::string* output);

// The real dbcanary binary, started as a child process with its own listen port.
// Its stderr (the log) goes to a file the test can read.
class ExporterProcess {
 public:
  // Listens on `port`, or on a free port when 0 (a restart reuses the port of the process it
  // replaces, so a scraper keeps its target; the stack's vmagent scrapes DBCANARY_LISTEN_PORT).
  ExporterProcess(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                  int port = 0);
  ~ExporterProcess();
  ExporterProcess(const ExporterProcess&) = delete;
  ExporterProcess& operator=(const ExporterProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool WaitReady(std::chrono::milliseconds timeout);
  HttpResponse Get(const std::string& path) const { return HttpRequest(port_, "GET", path); }
  HttpResponse Post(const std::string& path) const { return HttpRequest(port_, "POST", path); }
  // POST /-/reload with the header it needs (docs/web-security.md).
  HttpResponse Reload() const {
    return HttpRequest(port_, "POST", "/-/reload", std::chrono::seconds(15),
                       "X-Dbcanary-Reload: 1\r\n");
  }
  std::string Log() const;
  bool Running();
  // Sends `signal`; for SIGTERM waits for exit and returns the exit status (-1 if it
  // did not exit within `wait`).
  void Signal(int signal);
  int Stop(std::chrono::milliseconds wait, double* seconds_taken = nullptr);

 private:
  int port_ = 0;
  pid_t pid_ = -1;
  std::string log_path_;
  int exit_status_ = -1;
};

// The value of the first sample in `body` whose line starts with `series` followed by a
// space (e.g. `dbcanary_probe_success{probe="x",target="y"}`); NaN when absent.
double SampleValue(const std::string& body, const std::string& series);

}  // namespace dbcanary::testing
