// End-to-end support for server_e2e_test: the REAL fwserver processes (`fwserver init`,
// `fwserver ca init`, `fwserver issuer`, `fwserver run --port 0`) in a temp data directory, and
// terminals talking to it over real TLS on loopback through the `curl` CLI.
//
// Contract:
//  - FleetServer makes a fresh data directory, edits fwserver.json (loopback, 2 I/O threads, the
//    renewal grace given), starts the issuer and the device port and reads the port `run --json`
//    prints. The destructor sends SIGTERM to the two processes it started (by pid) and reaps them.
//  - Every HTTP exchange is one `curl` process: status, headers (lower-case names) and body are
//    returned as seen on the wire; a transport failure is status 0 with curl's exit code/stderr.
//  - E2eTerminal holds a P-256 key made with the identity library (MakeCsrPem) and, after
//    enrolment, the certificate the server issued, as PEM files curl reads.
// Thread safety: none (one test thread). Failure model: setup problems are gtest failures
// (ADD_FAILURE / ASSERT in the caller), never exceptions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing.h"

namespace fw::server::e2e {

using Json = nlohmann::json;

struct HttpReply {
  int status = 0;  // 0: curl could not complete the exchange
  int curl_exit = 0;
  std::string curl_error;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  Json json() const { return Json::parse(body, nullptr, /*allow_exceptions=*/false); }
  // The protocol's error code ("" when the body is not an error object).
  std::string error() const;
  std::string Header(const std::string& lower_name) const;
  std::string Describe() const;  // for failure messages
};

// A client certificate and its key (PEM file paths); empty paths: no certificate.
struct ClientCert {
  std::string cert;
  std::string key;
};

struct RequestOptions {
  std::string method = "POST";
  std::string body;
  const ClientCert* cert = nullptr;
  std::vector<std::string> headers;  // "Name: value"
};

class FleetServer {
 public:
  // `dir` must not exist yet (it becomes the data directory).
  explicit FleetServer(const std::string& dir, int64_t renew_grace_seconds = 120);
  // `edit` changes fwserver.json after the harness's own settings, before `fwserver run` starts.
  FleetServer(const std::string& dir, const std::function<void(Json&)>& edit);
  ~FleetServer();
  FleetServer(const FleetServer&) = delete;
  FleetServer& operator=(const FleetServer&) = delete;

  bool started() const { return port_ != 0; }
  const std::string& dir() const { return dir_; }
  std::string chain_pem() const { return dir_ + "/ca/chain.pem"; }
  uint16_t port() const { return port_; }
  // The operator port (`fwserver run --json` prints "operator_port"; fwserver.json's operator.port
  // is set to 0, an ephemeral port); 0 when the server printed none.
  uint16_t operator_port() const { return operator_port_; }
  // Unix time taken just before `fwserver ca init`: the CA certificates start 5 minutes earlier.
  int64_t ca_made_s() const { return ca_made_s_; }

  // The issuer process: stopped (SIGTERM) and started again on the same socket.
  void StopIssuer();
  bool StartIssuer();
  // SIGTERM to `fwserver run`; its exit status (128 + signal when killed by one).
  int StopRun();

  HttpReply Request(const std::string& path, const RequestOptions& options) const;
  HttpReply Get(const std::string& path, std::vector<std::string> headers = {}) const;

  // `fwserver ARGS --data DIR`.
  fw::testing::CommandResult Fw(std::vector<std::string> args) const;
  // `fwserver ARGS --data DIR --json`, expecting exit 0; the parsed output (null on failure).
  Json FwJson(std::vector<std::string> args) const;
  std::string Token(const std::string& serial) const;
  Json DeviceShow(const std::string& serial) const;          // device show --json: the "device" object
  Json ActionList(const std::string& serial) const;          // action list --device S --json: the array
  Json Action(const std::string& serial, int64_t id) const;  // one of ActionList (null if absent)
  // action create --device S ARGS; the new id (0 on failure).
  int64_t CreateAction(const std::string& serial, std::vector<std::string> args) const;

 private:
  void Start(int64_t renew_grace_seconds, const std::function<void(Json&)>& edit = nullptr);
  std::string dir_;
  std::string scratch_;
  pid_t issuer_pid_ = -1;
  pid_t run_pid_ = -1;
  uint16_t port_ = 0;
  uint16_t operator_port_ = 0;
  int64_t ca_made_s_ = 0;
  mutable int counter_ = 0;
};

// A simulated terminal with its own key, files under `dir`.
class E2eTerminal {
 public:
  E2eTerminal(const FleetServer& server, std::string serial, const std::string& dir);

  const std::string& serial() const { return serial_; }
  const ClientCert& cert() const { return cert_; }
  std::string CsrPem() const;
  const std::string& key_path() const { return cert_.key; }

  // POST /v1/enrol without a client certificate; on 200 the certificate is kept.
  HttpReply Enrol(const std::string& token, const std::string& serial_in_body = "");
  // Token + enrolment, expecting 200.
  bool MustEnrol();
  // Uses this certificate file instead (e.g. one issued out of band, expired, another CA's).
  void UseCertificate(const std::string& pem);

  HttpReply Post(const std::string& path, const std::string& body, std::vector<std::string> headers = {}) const;
  HttpReply Checkin(const Json& manifest, std::vector<std::string> headers = {}) const;
  HttpReply Event(int64_t action, const Json& event) const;
  HttpReply Segment(const std::string& body) const;
  // POST /v1/renew with a CSR for this key (on 200 the new certificate is kept), or with `csr`
  // (another key: a rotation; the caller takes the certificate).
  HttpReply Renew(const std::string& csr = "");

 private:
  const FleetServer& server_;
  std::string serial_;
  std::string dir_;
  std::string prefix_;  // of this terminal's files
  ClientCert cert_;
  std::string key_pem_;
};

// A check-in manifest (docs/fleet-protocol.md); `other` and `journal` are left out when null.
Json Manifest(const std::string& version, const std::string& state = "confirmed", Json other = nullptr,
              Json journal = nullptr);

// A terminal's payment journal built with the real tools (`fwupdate journal simulate`, `export`),
// and the segments of docs/fleet-journal-witness.md made from the export: header line + JSON lines.
class CliJournal {
 public:
  CliJournal(std::string path, std::string terminal_id) : path_(std::move(path)), terminal_(std::move(terminal_id)) {}
  void Simulate(int count, int seed);          // appends `count` records (creates the journal)
  void CopyTo(const std::string& path) const;  // a byte copy of the journal file (a clone)
  // `fwupdate journal export --format jsonl` lines for seqs [from, to].
  std::vector<std::string> Lines(int64_t from, int64_t to) const;
  int64_t last_seq() const;
  std::string HeadAt(int64_t seq) const;  // the record's hash
  std::string head() const { return HeadAt(last_seq()); }
  Json Position() const { return Json{{"last_seq", last_seq()}, {"head", head()}}; }  // the manifest's "journal"
  std::string Segment(int64_t from, int64_t to, int64_t epoch = 1) const;

 private:
  std::string path_;
  std::string terminal_;
};

// Unix seconds now.
int64_t NowS();

// Lower-case hex SHA-256 of a file's bytes.
std::string FileSha256Hex(const std::string& path);

// One fresh fleet server per test (each test runs in its own process under ctest).
class E2eFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FleetServer>(tmp_ / "srv");
    ASSERT_TRUE(server_->started());
  }
  void TearDown() override { server_.reset(); }
  std::unique_ptr<E2eTerminal> NewTerminal(const std::string& serial) {
    return std::make_unique<E2eTerminal>(*server_, serial, tmp_ / "terminals");
  }
  fw::testing::TempDir tmp_;
  std::unique_ptr<FleetServer> server_;
};

}  // namespace fw::server::e2e
