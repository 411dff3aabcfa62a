// fwserver.json (fw/server/config.h): defaults round-trip, strictness, bounds, path resolution.
#include <gtest/gtest.h>

#include "fw/server/config.h"
#include "testing.h"

namespace fw::server {
namespace {

TEST(ServerConfig, DefaultsRoundTrip) {
  const auto c = ParseConfig(DefaultConfigJson(), "/data");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const ServerConfig d;
  EXPECT_EQ(c->port, d.port);
  EXPECT_EQ(c->listen_address, "0.0.0.0");
  EXPECT_EQ(c->tls_cert, "/data/tls/server.pem");
  EXPECT_EQ(c->tls_key, "/data/tls/server.key");
  EXPECT_EQ(c->client_ca, "/data/ca/chain.pem");
  EXPECT_EQ(c->repository_dir, "/data/repo");
  EXPECT_EQ(c->database, "/data/server.db");
  EXPECT_EQ(c->issuer_socket, "/data/issuer.sock");
  EXPECT_EQ(c->issuer_key, "");
  EXPECT_EQ(c->limits.header_bytes, d.limits.header_bytes);
  EXPECT_EQ(c->limits.max_connections, d.limits.max_connections);
  EXPECT_EQ(c->renew_grace_seconds, d.renew_grace_seconds);
}

TEST(ServerConfig, EmptyObjectTakesDefaults) {
  const auto c = ParseConfig("{}", "/d");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 8443);
  EXPECT_EQ(c->issuer_socket, "/d/issuer.sock");
}

TEST(ServerConfig, ValuesAndPaths) {
  const auto c = ParseConfig(R"({"device_port": {"port": 0, "tls_cert": "/etc/x.pem"},
      "issuer": {"key": "pkcs11:token=fleet;object=issuing"}, "limits": {"threads": 4, "header_timeout_ms": 250},
      "devices": {"poll_seconds": 60, "poll_jitter_seconds": 10}})",
                             "/d");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->tls_cert, "/etc/x.pem");
  EXPECT_EQ(c->issuer_key, "pkcs11:token=fleet;object=issuing");
  EXPECT_EQ(c->issuer_socket, "");
  EXPECT_EQ(c->limits.threads, 4);
  EXPECT_EQ(c->limits.header_timeout_ms, 250);
  EXPECT_EQ(c->poll_seconds, 60);
}

TEST(ServerConfig, RefusesWhatItDoesNotKnow) {
  struct Case {
    const char* json;
    const char* names;  // what the message must mention
  };
  for (const Case& k : std::vector<Case>{
           {R"({"device_port": {"prot": 1}})", "device_port.prot: unknown key"},
           {R"({"extra": 1})", "extra: unknown key"},
           {R"({"limits": {"threads": 1, "threads": 2}})", "threads: repeated key"},
           {R"({"device_port": {"port": 70000}})", "device_port.port"},
           {R"({"device_port": {"port": -1}})", "device_port.port"},
           {R"({"device_port": {"port": 1.5}})", "device_port.port"},
           {R"({"device_port": {"port": "443"}})", "device_port.port"},
           {R"({"limits": {"max_connections": 18446744073709551615}})", "limits.max_connections"},
           {R"({"limits": {"header_bytes": 10}})", "limits.header_bytes"},
           {R"({"issuer": {}})", "issuer: give exactly one"},
           {R"({"issuer": {"socket": "a", "key": "b"}})", "issuer: give exactly one"},
           {R"({"database": ""})", "database"},
           {R"({"devices": {"poll_seconds": 60, "poll_jitter_seconds": 60}})", "poll_jitter_seconds"},
           {R"({"repository": {"url": "http://cdn/"}})", "repository.url"},
           {R"({"limits": []})", "limits: must be an object"},
           {R"([])", "must be a JSON object"},
           {R"({"a":)", "not valid JSON"},
       }) {
    const auto c = ParseConfig(k.json, "/d");
    ASSERT_FALSE(c.ok()) << k.json;
    EXPECT_EQ(c.status().code(), ErrorCode::kCorrupt) << k.json;
    EXPECT_NE(c.status().message().find(k.names), std::string::npos) << c.status().message();
  }
}

TEST(ServerConfig, LoadConfigReadsTheDataDirectory) {
  fw::testing::TempDir dir;
  EXPECT_EQ(LoadConfig(dir.path()).status().code(), ErrorCode::kNotFound);
  fw::testing::WriteFile(dir / "fwserver.json", R"({"device_port": {"port": 9443}})");
  const auto c = LoadConfig(dir.path() + "/");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->port, 9443);
  EXPECT_EQ(c->data_dir, dir.path());
  EXPECT_EQ(c->database, dir / "server.db");
  fw::testing::WriteFile(dir / "fwserver.json", std::string(kMaxConfigBytes + 1, ' '));
  EXPECT_FALSE(LoadConfig(dir.path()).ok());
}

}  // namespace
}  // namespace fw::server
