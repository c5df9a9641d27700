#include "probes/kubernetes/backup_directory_probe.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#include "clients/kube/kube_common.h"
#include "probes/kubernetes/k8s_cnpg_backups_probe.h"

namespace dbcanary {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLastCompleted = "dbcanary_backup_last_completed_timestamp_seconds";
constexpr const char* kSize = "dbcanary_backup_size_bytes";
constexpr const char* kCount = "dbcanary_backup_directory_backups";

double MtimeSeconds(const fs::path& path, std::error_code& error) {
  auto time = fs::last_write_time(path, error);
  if (error) return 0;
  auto system = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration<double>(system.time_since_epoch()).count();
}

bool IsManifest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(256, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head.find("\"PostgreSQL-Backup-Manifest-Version\"") != std::string::npos;
}

std::optional<DirectoryBackup> Inspect(const fs::path& dir) {
  std::error_code error;
  DirectoryBackup backup;
  backup.path = dir.string();
  bool has_label = fs::is_regular_file(dir / "backup_label", error);
  bool has_tar = false;
  double newest = 0;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("base.tar", 0) == 0) has_tar = true;
    if (entry.is_regular_file(error)) newest = std::max(newest, MtimeSeconds(entry.path(), error));
  }
  if (fs::is_regular_file(dir / "backup_manifest", error)) {
    if (!IsManifest(dir / "backup_manifest")) return std::nullopt;  // partial or foreign file
    backup.has_manifest = true;
    backup.completed_at = MtimeSeconds(dir / "backup_manifest", error);
  } else if (has_label || has_tar) {
    backup.completed_at = newest;
  } else {
    return std::nullopt;
  }
  backup.tar_format = has_tar;
  for (auto it = fs::recursive_directory_iterator(
           dir, fs::directory_options::skip_permission_denied, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    std::error_code size_error;
    if (it->is_regular_file(size_error)) {
      auto size = it->file_size(size_error);
      if (!size_error) backup.size_bytes += static_cast<double>(size);
    }
  }
  return backup;
}

// The declared targets: `expect: { backup_max_age, min_backups, min_size_bytes }`.
struct BackupDirectoryExpect {
  double max_age_seconds = 24 * 3600.0;
  int64_t min_backups = 1;
  std::optional<double> min_size_bytes;  // of the newest backup; unset: not checked
};

class BackupDirectoryProbe final : public Probe {
 public:
  BackupDirectoryProbe(std::string target, std::string path, BackupDirectoryExpect expect)
      : target_(std::move(target)), path_(std::move(path)), expect_(expect) {}

  const std::vector<MetricDesc>& Describe() const override { return BackupDirectoryMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    if (ctx.deadline.Expired()) {
      result.Fail(ErrorCode::kTimeout, "backup_directory " + path_ + ": no time left");
      return result;
    }
    auto backups = FindDirectoryBackups(path_);
    if (!backups) {
      result.Fail(backups.error());
      return result;
    }
    const DirectoryBackup* newest = nullptr;
    for (const auto& backup : *backups) {
      if (newest == nullptr || backup.completed_at > newest->completed_at) newest = &backup;
    }
    result.Add(kCount, {{"target", target_}}, static_cast<double>(backups->size()));
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    double age = kNaN;
    if (newest != nullptr) {
      result.Add(kLastCompleted,
                 {{"target", target_}, {"method", "pg_basebackup"}, {"source", "directory"}},
                 newest->completed_at);
      result.Add(kSize, {{"target", target_}, {"source", "directory"}}, newest->size_bytes);
      age = kube::NowSeconds() - newest->completed_at;
    }
    result.expectations.push_back(
        ExpectNumber("backup_max_age", target_, age, "<=", expect_.max_age_seconds));
    result.expectations.push_back(ExpectNumber("backup_min_count", target_,
                                               static_cast<double>(backups->size()),
                                               ">=", static_cast<double>(expect_.min_backups)));
    if (expect_.min_size_bytes) {
      result.expectations.push_back(ExpectNumber("backup_min_size_bytes", target_,
                                                 newest ? newest->size_bytes : kNaN,
                                                 ">=", *expect_.min_size_bytes));
    }
    result.success = true;
    return result;
  }

 private:
  std::string target_;
  std::string path_;
  BackupDirectoryExpect expect_;
};

}  // namespace

Result<std::vector<DirectoryBackup>> FindDirectoryBackups(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return MakeError(ErrorCode::kConnect, "backup_directory " + dir + ": not a readable directory");
  }
  std::vector<DirectoryBackup> backups;
  if (auto self = Inspect(dir)) {
    backups.push_back(std::move(*self));
    return backups;
  }
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    std::error_code type_error;
    if (!entry.is_directory(type_error)) continue;
    if (auto backup = Inspect(entry.path())) backups.push_back(std::move(*backup));
  }
  if (error) {
    return MakeError(ErrorCode::kConnect, "backup_directory " + dir + ": " + error.message());
  }
  return backups;
}

const std::vector<MetricDesc>& BackupDirectoryMetricDescs() {
  static const std::vector<MetricDesc> descs = [] {
    std::vector<MetricDesc> out;
    for (const auto& desc : K8sCnpgBackupsMetricDescs()) {
      if (desc.name == kLastCompleted) out.push_back(desc);
    }
    out.push_back({kSize, "Size of the newest complete backup (every file under it), per source.",
                   MetricType::kGauge});
    out.push_back({kCount, "Complete pg_basebackup backups found in the backup directory.",
                   MetricType::kGauge});
    return out;
  }();
  return descs;
}

Result<std::unique_ptr<Probe>> CreateBackupDirectoryProbe(const ProbeSettings& settings,
                                                          const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const PostgresCluster* cluster = config.FindCluster(settings.target);
    if (cluster == nullptr || !settings.params) {
      return MakeError(ErrorCode::kConfig,
                       "backup_directory: no postgres cluster named \"" + settings.target + "\"");
    }
    std::string path = settings.params->RequiredString("path");
    BackupDirectoryExpect expect;
    if (auto map = settings.params->Map("expect")) {
      if (auto d = map->Duration("backup_max_age")) {
        expect.max_age_seconds = std::chrono::duration<double>(*d).count();
      }
      if (auto n = map->Int("min_backups", 0, 1000000)) expect.min_backups = *n;
      expect.min_size_bytes = map->Number("min_size_bytes", 0, 1e18);
      map->Finish();
    }
    settings.params->Finish();
    return std::unique_ptr<Probe>(
        std::make_unique<BackupDirectoryProbe>(cluster->name, std::move(path), expect));
  });
}

}  // namespace dbcanary
