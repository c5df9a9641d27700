#include "probes/runtime/result_store.h"

#include <gtest/gtest.h>

namespace dbcanary {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const ProbeInfo> Info(std::string target,
                                      std::chrono::milliseconds interval = 10s) {
  auto info = std::make_shared<ProbeInfo>();
  info->key = ProbeKey{"fake", std::move(target)};
  info->interval = interval;
  info->timeout = 1s;
  return info;
}

std::shared_ptr<const ProbeResult> Success(std::chrono::system_clock::time_point at) {
  auto result = std::make_shared<ProbeResult>();
  result->success = true;
  result->finished_at = at;
  return result;
}

std::shared_ptr<const ProbeResult> Failure(ErrorCode code) {
  auto result = std::make_shared<ProbeResult>();
  result->Fail(code, "boom");
  result->finished_at = std::chrono::system_clock::now();
  return result;
}

size_t Reason(ErrorCode code) { return static_cast<size_t>(code); }

TEST(ResultStoreTest, StartsEmptyPerConfiguredProbeInConfigOrder) {
  ResultStore store;
  store.SetProbes({Info("b"), Info("a")});
  auto snapshot = store.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].info->key.target, "b");
  EXPECT_EQ(snapshot[1].info->key.target, "a");
  EXPECT_EQ(snapshot[0].latest, nullptr);
  EXPECT_EQ(snapshot[0].counters.runs, 0u);
  EXPECT_FALSE(snapshot[0].counters.last_success.has_value());
}

TEST(ResultStoreTest, SnapshotIsNotChangedByLaterPublishes) {
  ResultStore store;
  store.SetProbes({Info("a")});
  auto first = Success(std::chrono::system_clock::now());
  store.Publish(ProbeKey{"fake", "a"}, first);
  auto before = store.Snapshot();
  store.Publish(ProbeKey{"fake", "a"}, Failure(ErrorCode::kTimeout));
  store.CountSkipped(ProbeKey{"fake", "a"});
  EXPECT_EQ(before[0].latest, first);
  EXPECT_EQ(before[0].counters.runs, 1u);
  EXPECT_EQ(before[0].counters.skipped, 0u);
  auto after = store.Snapshot();
  EXPECT_FALSE(after[0].latest->success);
  EXPECT_EQ(after[0].counters.runs, 2u);
  EXPECT_EQ(after[0].counters.failures[Reason(ErrorCode::kTimeout)], 1u);
  EXPECT_EQ(after[0].counters.skipped, 1u);
}

TEST(ResultStoreTest, CountsFailuresByReasonAndLastSuccess) {
  ResultStore store;
  store.SetProbes({Info("a")});
  ProbeKey key{"fake", "a"};
  auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  store.Publish(key, Success(at));
  store.Publish(key, Failure(ErrorCode::kAuth));
  store.Publish(key, Failure(ErrorCode::kAuth));
  auto bare = std::make_shared<ProbeResult>();  // failed without an error: counted as internal
  store.Publish(key, bare);
  auto counters = store.Snapshot()[0].counters;
  EXPECT_EQ(counters.runs, 4u);
  EXPECT_EQ(counters.failures[Reason(ErrorCode::kAuth)], 2u);
  EXPECT_EQ(counters.failures[Reason(ErrorCode::kInternal)], 1u);
  EXPECT_EQ(counters.last_success, at);
}

TEST(ResultStoreTest, ReloadKeepsCountersOfKeptKeysAndDropsTheRest) {
  ResultStore store;
  store.SetProbes({Info("kept"), Info("dropped")});
  store.Publish(ProbeKey{"fake", "kept"}, Failure(ErrorCode::kConnect));
  store.CountSkipped(ProbeKey{"fake", "kept"});
  store.Publish(ProbeKey{"fake", "dropped"}, Success(std::chrono::system_clock::now()));

  store.SetProbes({Info("new"), Info("kept", 30s)});
  auto snapshot = store.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].info->key.target, "new");
  EXPECT_EQ(snapshot[0].counters.runs, 0u);
  EXPECT_EQ(snapshot[0].latest, nullptr);
  const auto& kept = snapshot[1];
  EXPECT_EQ(kept.info->key.target, "kept");
  EXPECT_EQ(kept.info->interval, 30s);  // the new generation's settings
  EXPECT_EQ(kept.counters.runs, 1u);
  EXPECT_EQ(kept.counters.failures[Reason(ErrorCode::kConnect)], 1u);
  EXPECT_EQ(kept.counters.skipped, 1u);
  ASSERT_NE(kept.latest, nullptr);
}

TEST(ResultStoreTest, IgnoresResultsOfProbesNoLongerConfigured) {
  ResultStore store;
  store.SetProbes({Info("a")});
  store.SetProbes({});
  store.Publish(ProbeKey{"fake", "a"}, Success(std::chrono::system_clock::now()));
  store.CountSkipped(ProbeKey{"fake", "a"});
  EXPECT_TRUE(store.Snapshot().empty());
  // Coming back later starts from zero: it was removed, not hidden.
  store.SetProbes({Info("a")});
  EXPECT_EQ(store.Snapshot()[0].counters.runs, 0u);
}

TEST(ResultStoreTest, PublishReturnsWhetherThePreviousResultSucceeded) {
  ResultStore store;
  store.SetProbes({Info("a")});
  ProbeKey key{"fake", "a"};
  EXPECT_EQ(store.Publish(key, Failure(ErrorCode::kQuery)), std::nullopt);
  EXPECT_EQ(store.Publish(key, Success(std::chrono::system_clock::now())), false);
  // Across a reload that keeps the key, so state-change logging does not repeat itself.
  store.SetProbes({Info("a", 5s)});
  EXPECT_EQ(store.Publish(key, Success(std::chrono::system_clock::now())), true);
  EXPECT_EQ(store.Publish(ProbeKey{"fake", "unknown"}, Failure(ErrorCode::kQuery)), std::nullopt);
}

TEST(ResultStoreTest, KeyNameIsKindSlashTarget) {
  EXPECT_EQ((ProbeKey{"pg_replication", "shared-postgres"}.Name()),
            "pg_replication/shared-postgres");
}

}  // namespace
}  // namespace dbcanary
