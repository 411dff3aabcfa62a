#include "pg_store_testing.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "testing.h"

namespace fw::server::pgtest {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// `uri` (postgresql://user@/DB?query) with DB replaced.
std::string WithDatabase(const std::string& uri, const std::string& db) {
  const size_t scheme = uri.find("://");
  const size_t slash = uri.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return uri + "/" + db;
  const size_t end = std::min(uri.find('?', slash), uri.size());
  return uri.substr(0, slash + 1) + db + uri.substr(end);
}

}  // namespace

PgCluster& PgCluster::Private() {
  static PgCluster cluster;
  static std::once_flag once;
  std::call_once(once, [] { cluster.StartPrivate(); });
  return cluster;
}

void PgCluster::StartPrivate() {
  char tmpl[] = "/tmp/fw-pgstore-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = tmpl;
  auto r = fw::testing::RunCommand({fw::testing::SourcePath("scripts/pg-cluster.sh"), "start", dir_, "--fast"});
  if (r.exit_code != 0) {
    error_ = "pg-cluster.sh start: " + r.out + r.err;
    return;
  }
  admin_uri_ = Trimmed(r.out);
}

PgCluster::~PgCluster() {
  if (dir_.empty()) return;
  fw::testing::RunCommand({fw::testing::SourcePath("scripts/pg-cluster.sh"), "stop", dir_});
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PgCluster::NewDatabase() {
  static std::atomic<int> counter{0};
  EXPECT_EQ(error_, "");
  if (admin_uri_.empty()) return "";
  const std::string name = "pgstore_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
                           std::to_string(std::rand() % 100000);
  const std::string out = Psql(admin_uri_, "CREATE DATABASE " + name);
  EXPECT_EQ(out.rfind("ERROR", 0), std::string::npos) << out;
  return WithDatabase(admin_uri_, name);
}

std::string PgCluster::Control(const std::string& command) {
  std::vector<std::string> argv = {fw::testing::SourcePath("scripts/pg-cluster.sh"), command, dir_};
  if (command == "start") argv.push_back("--fast");
  auto r = fw::testing::RunCommand(argv);
  return r.exit_code == 0 ? "" : "pg-cluster.sh " + command + ": " + r.out + r.err;
}

std::string Psql(const std::string& uri, const std::string& sql) {
  auto r = fw::testing::RunCommand({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", uri, "-c", sql});
  if (r.exit_code != 0) return "ERROR: " + r.err;
  return Trimmed(r.out);
}

}  // namespace fw::server::pgtest
