// `fwupdate install` over HTTPS against the hostile test server on loopback (tests/stream/hostile_server.h):
// `--repository URL --target NAME` (refresh + bundle::OpenTargetStream) and a bundle URL
// (StreamBundleSource), through network faults. In every case the confirmed bank A keeps its hash and
// the target bank B holds only verified bytes: each byte of it is the image's byte or still erased.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "hostile_server.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using fw::testing::CommandResult;
using fw::testing::Fault;
using fw::testing::HostileServer;
using fw::testing::HostileServerOptions;
using fw::testing::RunCommand;
using fw::testing::TempDir;

constexpr uint64_t kSmallBank = 4 << 20;
constexpr char kTarget[] = "fw-2.0.0.img";

nlohmann::json LastJsonLine(const std::string& out) {
  std::string text = out;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return nlohmann::json::parse(text.substr(text.rfind('\n') + 1));
}

// Setup steps: a failure ends the test at once (gtest reports the exception).
void Must(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv);
  if (r.exit_code != 0) throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + r.err);
}

class StreamInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The server writes to connections the client dropped on purpose: EPIPE, not a dead test.
    ::signal(SIGPIPE, SIG_IGN);
    fs::create_directories(V("keys"));
    for (const char* k : {"image", "root", "targets", "snapshot", "timestamp"}) {
      Must({"fwsign", "key", "generate", "--out", V("keys/" + std::string(k) + ".pem")});
    }
    Must({"fwsign", "repo", "init", Repo(), "--root-key", V("keys/root.pem"), "--targets-key", V("keys/targets.pem"),
          "--snapshot-key", V("keys/snapshot.pem"), "--timestamp-key", V("keys/timestamp.pem")});
    Sign("fw-1.0.0.img", "1.0.0", 0, 100000);
    std::string error;
    server_ = HostileServer::Start({}, &error);
    ASSERT_NE(server_, nullptr) << error;
    server_->ServeDirectory(Repo());
  }

  std::string V(const std::string& rel) const { return vendor_ / rel; }
  std::string Repo() const { return V("repo"); }
  std::string Layout() const { return dev_ / "layout.json"; }

  void Sign(const std::string& name, const std::string& version, int counter, size_t payload) {
    fw::testing::WriteBytes(V(name + ".bin"), fw::testing::PseudoRandomBytes(payload, counter + 7));
    Must({"fwsign", "image", "sign", "--key", V("keys/image.pem"), "--version", version, "--security-counter",
          std::to_string(counter), "--hardware-id", "POS-X1", V(name + ".bin"), "-o", V(name)});
  }
  // A release in the repository (and its offline bundle served at /NAME.tar); returns the image bytes.
  std::vector<uint8_t> Release(const std::string& name, const std::string& version, size_t payload) {
    Sign(name, version, 1, payload);
    Must({"fwsign", "repo", "add-target", Repo(), "--image", V(name)});
    Must({"fwsign", "repo", "publish", Repo(), "--key", V("keys/targets.pem"), "--key", V("keys/snapshot.pem"), "--key",
          V("keys/timestamp.pem")});
    image_ = fw::testing::ReadBytes(V(name));
    image_path_ = "/targets/" + HexEncode(Sha256::Of(image_)) + "." + name;
    return image_;
  }
  void Bundle(const std::string& name) {
    Must({"fwsign", "bundle", "create", Repo(), "--target", name, "-o", V(name + ".tar")});
    server_->Serve("/" + name + ".tar", fw::testing::ReadFile(V(name + ".tar")));
  }

  // A file-backed terminal running 1.0.0 from bank A, trusting the repository's root 1.
  void Terminal(uint64_t bank_size = kSmallBank) {
    bank_size_ = bank_size;
    fw::testing::WriteFile(Layout(), fw::testing::FileTerminalLayout(bank_size));
    Must({"fwboot", "provision", "--device", Layout(), "--image", V("fw-1.0.0.img"), "--pubkey",
          V("keys/image.pub.pem"), "--hardware-id", "POS-X1"});
    Must({"fwupdate", "init", "--device", Layout(), "--tuf-root", Repo() + "/metadata/1.root.json"});
    Must({"fwupdate", "journal", "simulate", "--journal", dev_ / "data/journal.db", "--create", "--count", "50"});
    bank_a_ = BankHash(0);
    bank_b_before_ = Bank(1);
  }

  std::vector<uint8_t> Bank(int slot) {
    std::vector<uint8_t> all = fw::testing::ReadBytes(dev_ / "banks.bin");
    return {all.begin() + static_cast<ptrdiff_t>(slot * bank_size_),
            all.begin() + static_cast<ptrdiff_t>((slot + 1) * bank_size_)};
  }
  std::string BankHash(int slot) { return HexEncode(Sha256::Of(Bank(slot))); }

  CommandResult Install(std::vector<std::string> extra, bool repository = true) {
    std::vector<std::string> argv = {"fwupdate", "install", "--device", Layout(), "--json", "--ca", server_->ca_file()};
    if (repository) argv.insert(argv.end(), {"--repository", server_->Url(""), "--target", kTarget});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  // The invariants of every case: A untouched; B holds only the image's bytes, erased ones or what it held.
  void ExpectOnlyVerifiedBytes() {
    EXPECT_EQ(BankHash(0), bank_a_) << "the confirmed bank changed";
    const auto b = Bank(1);
    size_t foreign = 0;
    for (size_t i = 0; i < image_.size(); ++i)
      foreign += b[i] != image_[i] && b[i] != 0xff && b[i] != bank_b_before_[i];
    EXPECT_EQ(foreign, 0u) << "bytes in bank B that are neither the image's, erased nor there before";
  }
  void ExpectInstalled(const CommandResult& r) {
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ExpectOnlyVerifiedBytes();
    const auto b = Bank(1);
    EXPECT_TRUE(std::equal(image_.begin(), image_.end(), b.begin())) << "bank B is not the image";
  }
  void ExpectRefused(const CommandResult& r, int exit_code) {
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    ExpectOnlyVerifiedBytes();
    auto status = RunCommand({"fwupdate", "status", "--device", Layout(), "--json"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    const auto parsed = nlohmann::json::parse(status.out);  // not a temporary: the loop borrows from it
    for (const auto& slot : parsed["slots"]) {
      EXPECT_NE(slot["state"], "trial") << "a trial was set: " << status.out;
    }
  }
  int Requests(const std::string& path) {
    int n = 0;
    for (const auto& q : server_->Log()) n += q.path == path;
    return n;
  }

  TempDir vendor_, dev_;
  std::unique_ptr<HostileServer> server_;
  std::vector<uint8_t> image_;
  std::string image_path_;
  uint64_t bank_size_ = kSmallBank;
  std::string bank_a_;
  std::vector<uint8_t> bank_b_before_;
};

// The proof: 32 MiB, the connection dropped at every 1 MiB; resumed with Range + If-Range.
TEST_F(StreamInstallTest, A32MiBImageDroppedAtEveryMiBResumesToAByteIdenticalBank) {
  Release(kTarget, "2.0.0", 32 << 20);
  Terminal((32 << 20) + (1 << 20));
  server_->Serve(image_path_, std::string(image_.begin(), image_.end()));  // not re-read from disk 34 times
  server_->AddFault(Fault::DropAfter(image_path_, 1 << 20));
  auto r = Install({});
  ExpectInstalled(r);
  const auto net = LastJsonLine(r.out)["network"];
  EXPECT_GE(net["resumes"].get<int>(), 32) << net.dump();
  EXPECT_EQ(net["chunks_refetched"], 0);
  int with_if_range = 0;
  for (const auto& q : server_->Log()) with_if_range += q.path == image_path_ && !q.if_range.empty();
  EXPECT_GE(with_if_range, 32);
}

TEST_F(StreamInstallTest, ABundleUrlResumesAfterDrops) {
  Release(kTarget, "2.0.0", 2 << 20);
  Bundle(kTarget);
  server_->AddFault(Fault::DropAfter("/" + std::string(kTarget) + ".tar", 700000));
  Terminal();
  auto r = Install({server_->Url("/" + std::string(kTarget) + ".tar")}, /*repository=*/false);
  ExpectInstalled(r);
  EXPECT_GE(LastJsonLine(r.out)["network"]["resumes"].get<int>(), 3);
  auto history = RunCommand({"fwupdate", "history", "--device", Layout(), "--json"});
  EXPECT_NE(history.out.find(server_->Url("/" + std::string(kTarget) + ".tar")), std::string::npos) << history.out;
}

TEST_F(StreamInstallTest, OneCorruptedByteInTransitIsFetchedAgain) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  server_->AddFault(Fault::CorruptAt(image_path_, (1 << 20) + 5));
  auto r = Install({});
  ExpectInstalled(r);
  EXPECT_EQ(LastJsonLine(r.out)["network"]["chunks_refetched"], 1);
}

TEST_F(StreamInstallTest, PersistentCorruptionFailsAndTheBadBytesAreNeverWritten) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  const uint64_t at = (1 << 20) + 5;
  server_->AddFault(Fault::CorruptAt(image_path_, at).Requests(1, Fault::kAlways));
  auto r = Install({});
  ExpectRefused(r, 3);
  EXPECT_NE(r.err.find("does not match the signed chunk index"), std::string::npos) << r.err;
  EXPECT_NE(Bank(1)[at], image_[at] ^ 0xff);
}

TEST_F(StreamInstallTest, ATruncatedBodyIsResumed) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  server_->AddFault(Fault::Truncate(image_path_, 300000).Requests(1, 2));
  ExpectInstalled(Install({}));
}

TEST_F(StreamInstallTest, ATruncatedBundleFileIsRefused) {
  Release(kTarget, "2.0.0", 2 << 20);
  Bundle(kTarget);
  auto bytes = fw::testing::ReadFile(V(std::string(kTarget) + ".tar"));
  server_->Serve("/short.tar", bytes.substr(0, bytes.size() / 2));
  Terminal();
  ExpectRefused(Install({server_->Url("/short.tar")}, false), 3);
}

TEST_F(StreamInstallTest, A200ToARangeRequestRestartsCleanly) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  server_->AddFault(Fault::DropAfter(image_path_, 600000).Requests(1, 1));
  server_->AddFault(Fault::IgnoreRange(image_path_));
  auto r = Install({});
  ExpectInstalled(r);
  EXPECT_GE(LastJsonLine(r.out)["network"]["restarts"].get<int>(), 1);
}

TEST_F(StreamInstallTest, AChangedETagMidDownloadFails) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  const auto other = fw::testing::PseudoRandomBytes(image_.size(), 99);
  Fault change = Fault::ChangeContent(image_path_, std::string(other.begin(), other.end()), 2);
  change.honour_if_range = false;  // a 206 from other content: its ETag differs
  server_->AddFault(Fault::DropAfter(image_path_, 600000).Requests(1, 1));
  server_->AddFault(change);
  ExpectRefused(Install({}), 3);
}

TEST_F(StreamInstallTest, AStalledTransferEndsAtTheDeadline) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  server_->AddFault(Fault::StallAfter(image_path_, 500000));
  auto r = Install({"--deadline", "3"});
  ExpectRefused(r, 6);
  EXPECT_EQ(LastJsonLine(r.out)["error"]["kind"], "timeout") << r.out;
}

TEST_F(StreamInstallTest, ServiceUnavailableWithRetryAfterIsWaitedOut) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  server_->AddFault(Fault::Status(image_path_, 503, 2, /*retry_after=*/1));
  ExpectInstalled(Install({}));
  EXPECT_EQ(Requests(image_path_), 3);
}

TEST_F(StreamInstallTest, RedirectsToAnotherHostOrSchemeAreRefused) {
  Release(kTarget, "2.0.0", 2 << 20);
  Bundle(kTarget);
  Terminal();
  server_->AddFault(Fault::Redirect(image_path_, "http://127.0.0.2:9" + image_path_));
  auto r = Install({});
  ExpectRefused(r, 4);
  EXPECT_NE(r.err.find("http://127.0.0.2:9"), std::string::npos) << r.err;
  server_->AddFault(Fault::Redirect("/b.tar", "https://example.invalid/b.tar"));
  auto url = Install({server_->Url("/b.tar")}, false);
  ExpectRefused(url, 4);
  EXPECT_EQ(Requests("/b.tar"), 1);
}

TEST_F(StreamInstallTest, AWrongServerCertificateIsRefused) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  for (auto cert : {HostileServerOptions::Cert::kOtherCa, HostileServerOptions::Cert::kWrongHost}) {
    HostileServerOptions o;
    o.cert = cert;
    o.pki_dir = server_->pki_dir();
    std::string error;
    auto bad = HostileServer::Start(o, &error);
    ASSERT_NE(bad, nullptr) << error;
    bad->ServeDirectory(Repo());
    auto r = RunCommand({"fwupdate", "install", "--device", Layout(), "--json", "--ca", server_->ca_file(),
                         "--repository", bad->Url(""), "--target", kTarget, "--deadline", "10"});
    ExpectRefused(r, 4);
    for (const auto& q : bad->Log()) EXPECT_EQ(q.status, 0) << q.path << " was answered";
  }
}

TEST_F(StreamInstallTest, AClientCertificateIsPresentedWhenGiven) {
  Release(kTarget, "2.0.0", 2 << 20);
  Terminal();
  HostileServerOptions o;
  o.require_client_cert = true;
  o.pki_dir = server_->pki_dir();
  std::string error;
  auto mtls = HostileServer::Start(o, &error);
  ASSERT_NE(mtls, nullptr) << error;
  mtls->ServeDirectory(Repo());
  std::vector<std::string> argv = {"fwupdate",      "install",      "--device",    Layout(),   "--json", "--ca",
                                   mtls->ca_file(), "--repository", mtls->Url(""), "--target", kTarget};
  ExpectRefused(RunCommand(argv), 4);
  argv.insert(argv.end(), {"--cert", mtls->client_cert(), "--key", mtls->client_key()});
  ExpectInstalled(RunCommand(argv));
}

TEST_F(StreamInstallTest, BadNetworkOptionsAreUsageErrors) {
  Release(kTarget, "2.0.0", 100000);
  Terminal();
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--deadline", "0"}, {"--min-speed", "-5"}, {"--cert", "c.pem"}}) {
    auto r = Install(extra);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << ": " << r.out << r.err;
  }
  auto both = Install({server_->Url("/x.tar")});  // a BUNDLE and --repository
  EXPECT_EQ(both.exit_code, 2) << both.err;
  auto no_target = RunCommand({"fwupdate", "install", "--device", Layout(), "--repository", server_->Url("")});
  EXPECT_EQ(no_target.exit_code, 2) << no_target.err;
  EXPECT_TRUE(server_->Log().empty());
}

TEST_F(StreamInstallTest, ARepositoryWithoutChunkIndexFilesSaysWhatToDo) {
  Release(kTarget, "2.0.0", 100000);
  Terminal();
  for (const auto& e : fs::directory_iterator(Repo() + "/targets")) {
    if (e.path().string().ends_with(".chunk-index")) fs::remove(e.path());
  }
  auto r = Install({});
  ExpectRefused(r, 4);
  EXPECT_NE(r.err.find("re-run `fwsign repo add-target`"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fw
