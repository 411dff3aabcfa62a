// fwserver.json (fw/server/config.h): defaults round-trip, strictness, bounds, path resolution.
#include <sys/stat.h>

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
  // Operator side: every key is written, and the defaults read back.
  EXPECT_EQ(c->operator_port.listen_address, "127.0.0.1");
  EXPECT_EQ(c->operator_port.port, 9443);
  EXPECT_EQ(c->operator_port.tls_cert, "/data/tls/server.pem");  // the device port's
  EXPECT_EQ(c->operator_port.tls_key, "/data/tls/server.key");
  EXPECT_EQ(c->operator_port.threads, 2);
  EXPECT_EQ(c->audit.heads_file, "/data/audit/heads.jsonl");
  EXPECT_EQ(c->audit.export_interval_seconds, 300);
  EXPECT_TRUE(c->alerts.webhooks.empty());
  EXPECT_EQ(c->alerts.ca_file, "");
  EXPECT_EQ(c->alerts.max_attempts, 8);
  EXPECT_EQ(c->alerts.backoff_seconds, 10);
  EXPECT_EQ(c->alerts.max_backoff_seconds, 3600);
  EXPECT_FALSE(c->alerts.allow_plain_http);
  EXPECT_EQ(c->journal.retention_days, 0);
  EXPECT_EQ(c->journal.encryption_key_file, "");
  EXPECT_EQ(c->journal.readers, "tokens with journal_read");
  EXPECT_EQ(c->cert_warn_days, 30);
  for (const char* key : {"\"operator\"", "\"audit\"", "\"alerts\"", "\"journal\"", "\"cert_warn_days\"",
                          "\"heads_file\"", "\"export_interval_seconds\"", "\"webhooks\"", "\"ca_file\"",
                          "\"max_attempts\"", "\"backoff_seconds\"", "\"max_backoff_seconds\"", "\"allow_plain_http\"",
                          "\"retention_days\"", "\"encryption_key_file\"", "\"readers\"", "\"listen_address\""}) {
    EXPECT_NE(DefaultConfigJson().find(key), std::string::npos) << key;
  }
}

TEST(ServerConfig, OperatorSideValues) {
  const auto c = ParseConfig(R"({"operator": {"listen_address": "::1", "port": 0, "tls_cert": "op/cert.pem",
      "tls_key": "/etc/op.key", "threads": 3},
      "audit": {"heads_file": "/mnt/other-disk/heads.jsonl", "export_interval_seconds": 60},
      "alerts": {"webhooks": [
          {"name": "ops", "url": "https://hooks.example.com/ptfw", "secret_file": "alerts/ops.secret", "kinds": ["*"]},
          {"name": "pci-team", "url": "http://127.0.0.1:9000/x", "secret_file": "/s", "kinds": ["clone", "audit_head"]}],
        "ca_file": "alerts/ca.pem", "max_attempts": 3, "backoff_seconds": 2, "max_backoff_seconds": 5,
        "allow_plain_http": true},
      "journal": {"retention_days": 90, "encryption_key_file": "journal.key"},
      "cert_warn_days": 14})",
                             "/d");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->operator_port.listen_address, "::1");
  EXPECT_EQ(c->operator_port.port, 0);
  EXPECT_EQ(c->operator_port.tls_cert, "/d/op/cert.pem");
  EXPECT_EQ(c->operator_port.tls_key, "/etc/op.key");
  EXPECT_EQ(c->operator_port.threads, 3);
  EXPECT_EQ(c->audit.heads_file, "/mnt/other-disk/heads.jsonl");
  EXPECT_EQ(c->audit.export_interval_seconds, 60);
  ASSERT_EQ(c->alerts.webhooks.size(), 2u);
  EXPECT_EQ(c->alerts.webhooks[0].name, "ops");
  EXPECT_EQ(c->alerts.webhooks[0].secret_file, "/d/alerts/ops.secret");
  EXPECT_EQ(c->alerts.webhooks[0].secret, "");  // ParseConfig reads no file
  EXPECT_EQ(c->alerts.webhooks[0].kinds, std::vector<std::string>{"*"});
  EXPECT_EQ(c->alerts.webhooks[1].kinds, (std::vector<std::string>{"clone", "audit_head"}));
  EXPECT_EQ(c->alerts.ca_file, "/d/alerts/ca.pem");
  EXPECT_EQ(c->alerts.max_attempts, 3);
  EXPECT_EQ(c->alerts.backoff_seconds, 2);
  EXPECT_EQ(c->alerts.max_backoff_seconds, 5);
  EXPECT_TRUE(c->alerts.allow_plain_http);
  EXPECT_EQ(c->journal.retention_days, 90);
  EXPECT_EQ(c->journal.encryption_key_file, "/d/journal.key");
  EXPECT_EQ(c->cert_warn_days, 14);
}

TEST(ServerConfig, RefusesBadOperatorSideKeys) {
  const std::string hook = R"("name": "ops", "url": "https://h/x", "secret_file": "s")";
  struct Case {
    std::string json;
    const char* names;
  };
  for (const Case& k : std::vector<Case>{
           {R"({"operator": {"prot": 1}})", "operator.prot: unknown key"},
           {R"({"operator": {"port": 65536}})", "operator.port"},
           {R"({"operator": {"threads": 0}})", "operator.threads"},
           {R"({"operator": {"threads": 65}})", "operator.threads"},
           {R"({"operator": {"listen_address": ""}})", "operator.listen_address"},
           {R"({"operator": {"tls_cert": "a.pem"}})", "operator.tls_cert, operator.tls_key: give both"},
           {R"({"audit": {"heads_file": ""}})", "audit.heads_file"},
           {R"({"audit": {"export_interval_seconds": 5}})", "audit.export_interval_seconds"},
           {R"({"audit": {"export": 5}})", "audit.export: unknown key"},
           {R"({"alerts": {"webhooks": {}}})", "alerts.webhooks: must be an array"},
           {R"({"alerts": {"webhooks": [1]}})", "alerts.webhooks[0]: must be an object"},
           {R"({"alerts": {"webhooks": [{"name": "a", "url": "https://h/", "kinds": ["*"]}]}})",
            "alerts.webhooks[0]: name, url, secret_file and kinds are required"},
           {"{\"alerts\": {\"webhooks\": [{" + hook + R"(, "kinds": ["*"], "extra": 1}]}})",
            "alerts.webhooks[0].extra: unknown key"},
           {"{\"alerts\": {\"webhooks\": [{" + hook + R"(, "kinds": ["clones"]}]}})",
            "alerts.webhooks[0].kinds: unknown alert kind \"clones\""},
           {"{\"alerts\": {\"webhooks\": [{" + hook + R"(, "kinds": []}]}})", "alerts.webhooks[0].kinds"},
           {"{\"alerts\": {\"webhooks\": [{" + hook + R"(, "kinds": "*"}]}})", "alerts.webhooks[0].kinds"},
           {"{\"alerts\": {\"webhooks\": [{" + hook + R"(, "kinds": ["clone", "clone"]}]}})", "given twice"},
           {"{\"alerts\": {\"webhooks\": [{" + hook + R"(, "kinds": ["*", "clone"]}]}})", "already means"},
           {"{\"alerts\": {\"webhooks\": [{" + hook + R"(, "kinds": ["*"]}, {)" + hook + R"(, "kinds": ["*"]}]}})",
            "alerts.webhooks[1].name: \"ops\" is used by another webhook"},
           {R"({"alerts": {"webhooks": [{"name": "a b", "url": "https://h/", "secret_file": "s", "kinds": ["*"]}]}})",
            "alerts.webhooks[0].name"},
           {R"({"alerts": {"webhooks": [{"name": "a", "url": "ftp://h/", "secret_file": "s", "kinds": ["*"]}]}})",
            "alerts.webhooks[0].url"},
           {R"({"alerts": {"webhooks": [{"name": "a", "url": "https:///x", "secret_file": "s", "kinds": ["*"]}]}})",
            "alerts.webhooks[0].url"},
           {R"({"alerts": {"webhooks": [{"name": "a", "url": "http://h/", "secret_file": "s", "kinds": ["*"]}]}})",
            "alerts.webhooks[0].url: must be https://"},
           {R"({"alerts": {"max_attempts": 0}})", "alerts.max_attempts"},
           {R"({"alerts": {"backoff_seconds": 0}})", "alerts.backoff_seconds"},
           {R"({"alerts": {"backoff_seconds": 60, "max_backoff_seconds": 30}})", "alerts.max_backoff_seconds"},
           {R"({"alerts": {"allow_plain_http": 1}})", "alerts.allow_plain_http: must be true or false"},
           {R"({"alerts": {"hooks": []}})", "alerts.hooks: unknown key"},
           {R"({"journal": {"retention_days": -1}})", "journal.retention_days"},
           {R"({"journal": {"readers": "everyone"}})", "journal.readers"},
           {R"({"journal": {"encryption_key_file": 5}})", "journal.encryption_key_file"},
           {R"({"cert_warn_days": 400})", "cert_warn_days"},
           {R"({"cert_warn_days": "30"})", "cert_warn_days"},
       }) {
    const auto c = ParseConfig(k.json, "/d");
    ASSERT_FALSE(c.ok()) << k.json;
    EXPECT_EQ(c.status().code(), ErrorCode::kCorrupt) << k.json;
    EXPECT_NE(c.status().message().find(k.names), std::string::npos) << k.json << " -> " << c.status().message();
  }
}

// LoadConfig reads each webhook's secret file at start: missing, empty and group-readable are refused, naming it.
TEST(ServerConfig, WebhookSecretsAreReadAndChecked) {
  fw::testing::TempDir dir;
  fw::testing::WriteFile(dir / "fwserver.json", R"({"alerts": {"webhooks": [
      {"name": "ops", "url": "https://h/x", "secret_file": "ops.secret", "kinds": ["*"]}]}})");
  const std::string secret = dir / "ops.secret";
  auto c = LoadConfig(dir.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(c.status().message().find("alerts.webhooks[0].secret_file " + secret), std::string::npos)
      << c.status().message();

  fw::testing::WriteFile(secret, "");
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  c = LoadConfig(dir.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(c.status().message().find(secret + ": empty"), std::string::npos) << c.status().message();

  fw::testing::WriteFile(secret, "s3cret-key\n");
  ASSERT_EQ(::chmod(secret.c_str(), 0640), 0);
  c = LoadConfig(dir.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(c.status().message().find(secret + ": readable by group or others"), std::string::npos)
      << c.status().message();

  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  c = LoadConfig(dir.path());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->alerts.webhooks.at(0).secret, "s3cret-key");  // the trailing newline is not part of the key
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
