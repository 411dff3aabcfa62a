// TUF and bundle benchmarks (driven by bench/tuf_bench.sh).
//
//   tuf_bench metadata WORKDIR TARGETS ROOT_VERSIONS
//     writes a repository (TARGETS targets, ROOT_VERSIONS root versions, each
//     rotating the root key) to WORKDIR/repo, then times a full refresh from a
//     fresh client (root chain + timestamp + snapshot + targets, signatures,
//     hashes, parsing, storing with fsync) plus one target lookup, and the same
//     verification on bytes in memory (TrustedSet only); best of 5 each, in ms.
//   tuf_bench bundle BUNDLE METADATA_DIR HARDWARE_ID
//     times verifying a bundle end to end (no-op chunk sink), best of 3, in s.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "fw/bundle_reader.h"
#include "fw/clock.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/signer.h"
#include "fw/tuf_metadata.h"
#include "fw/tuf_trusted_set.h"
#include "fw/tuf_updater.h"

namespace fw {
namespace {

namespace fs = std::filesystem;

class FileFetcher : public net::Fetcher {
 public:
  explicit FileFetcher(std::string dir) : dir_(std::move(dir)) {}
  Status Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) override {
    const std::string prefix = "file://";
    auto data = ReadFileToString(dir_ + "/" + url.substr(prefix.size()), max_bytes);
    if (!data.ok()) return NotFound(url);
    return sink(AsBytes(*data));
  }

 private:
  std::string dir_;
};

template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) {
    std::fprintf(stderr, "tuf_bench: %s\n", r.status().message().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}
void Must(Status s) {
  if (!s.ok()) {
    std::fprintf(stderr, "tuf_bench: %s\n", s.message().c_str());
    std::exit(1);
  }
}

std::string Sign(const std::string& signed_bytes, const Signer& key) {
  return tuf::SerializeEnvelope(signed_bytes, {Must(tuf::SignBytes(signed_bytes, key))});
}

// Writes ROOT_VERSIONS roots (each one rotating the root key) to `md`; the other roles
// all use `role_tuf`.
std::string WriteRoots(const std::string& md, int root_versions, int64_t expires, const tuf::Key& role_tuf) {
  using namespace tuf;
  Root root;
  KeySigner root_key(Must(PrivateKey::Generate(KeyType::kEd25519)));
  auto set_root_key = [&](const Signer& k) {
    Key t = Must(Key::FromPublicKey(k.public_key()));
    root.keys.clear();
    root.keys[t.KeyId()] = t;
    root.keys[role_tuf.KeyId()] = role_tuf;
    root.roles["root"] = RoleKeys{{t.KeyId()}, 1, ""};
    for (const char* r : {"targets", "snapshot", "timestamp"}) root.roles[r] = RoleKeys{{role_tuf.KeyId()}, 1, ""};
  };
  set_root_key(root_key);
  root.common.SetExpires(expires);
  for (int v = 1; v <= root_versions; ++v) {
    root.common.version = static_cast<uint64_t>(v);
    KeySigner next(Must(PrivateKey::Generate(KeyType::kEd25519)));
    if (v > 1) set_root_key(next);
    const std::string signed_bytes = Must(SerializeSigned(root));
    std::vector<Signature> sigs = {Must(SignBytes(signed_bytes, root_key))};
    if (v > 1) sigs.push_back(Must(SignBytes(signed_bytes, next)));
    Must(WriteFileAtomic(md + "/" + std::to_string(v) + ".root.json", SerializeEnvelope(signed_bytes, sigs)));
    if (v > 1) root_key = std::move(next);
  }
  return Must(ReadFileToString(md + "/1.root.json", tuf::kMaxRootBytes));
}

// The files of the benchmark repository, as written.
struct BenchRepo {
  std::string root1;
  std::vector<std::string> later_roots;  // versions 2..ROOT_VERSIONS
  std::string targets, snapshot, timestamp;
};

BenchRepo WriteRepo(const std::string& md, int n_targets, int root_versions, int64_t expires) {
  using namespace tuf;
  BenchRepo repo;
  KeySigner role_key(Must(PrivateKey::Generate(KeyType::kEd25519)));
  repo.root1 = WriteRoots(md, root_versions, expires, Must(Key::FromPublicKey(role_key.public_key())));
  for (int v = 2; v <= root_versions; ++v) {
    repo.later_roots.push_back(Must(ReadFileToString(md + "/" + std::to_string(v) + ".root.json", kMaxRootBytes)));
  }
  Targets targets;
  targets.common.SetExpires(expires);
  for (int i = 0; i < n_targets; ++i) {
    TargetFile tf;
    tf.length = 1000000 + static_cast<uint64_t>(i);
    tf.hashes["sha256"] = HexEncode(Sha256::Of(AsBytes("target " + std::to_string(i))));
    Must(tf.SetFirmware(
        {{"POS-X1"}, "1.0." + std::to_string(i), static_cast<uint32_t>(i), 65536, std::string(64, 'a'), 1, 2}));
    targets.targets["pos-x1/fw-" + std::to_string(i) + ".img"] = tf;
  }
  repo.targets = Sign(Must(SerializeSigned(targets)), role_key);
  Must(WriteFileAtomic(md + "/1.targets.json", repo.targets));
  Snapshot sn;
  sn.common.SetExpires(expires);
  sn.meta["targets.json"] =
      MetaFile{1, repo.targets.size(), {{"sha256", HexEncode(Sha256::Of(AsBytes(repo.targets)))}}, ""};
  repo.snapshot = Sign(Must(SerializeSigned(sn)), role_key);
  Must(WriteFileAtomic(md + "/1.snapshot.json", repo.snapshot));
  Timestamp ts;
  ts.common.SetExpires(expires);
  ts.snapshot_meta = MetaFile{1, repo.snapshot.size(), {{"sha256", HexEncode(Sha256::Of(AsBytes(repo.snapshot)))}}, ""};
  repo.timestamp = Sign(Must(SerializeSigned(ts)), role_key);
  Must(WriteFileAtomic(md + "/timestamp.json", repo.timestamp));
  return repo;
}

// Best of 5 full refreshes from a fresh client plus one lookup, in ms (< 0: wrong result).
double TimeRefresh(const std::string& work, const std::string& md, const BenchRepo& repo, int n_targets) {
  using namespace tuf;
  FileFetcher fetcher(md);
  double best = 1e9;
  for (int run = 0; run < 5; ++run) {
    const std::string client = work + "/client" + std::to_string(run);
    fs::remove_all(client);
    Must(Updater::Init(client, repo.root1));
    const auto start = std::chrono::steady_clock::now();
    UpdaterConfig c;
    c.metadata_dir = client;
    c.metadata_base_url = "file://";
    Updater u(c, fetcher);
    Must(u.Refresh());
    auto info = Must(u.GetTargetInfo("pos-x1/fw-" + std::to_string(n_targets / 2) + ".img"));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (info.file.length == 0) return -1;
    best = std::min(best, ms);
  }
  return best;
}

// The same checks on bytes already in memory (no fetch, no storing): TrustedSet alone.
// Best of 5, in ms (< 0: wrong result).
double TimeVerify(const BenchRepo& repo, int n_targets, int64_t now) {
  double best = 1e9;
  for (int run = 0; run < 5; ++run) {
    const auto start = std::chrono::steady_clock::now();
    tuf::TrustedSet set = Must(tuf::TrustedSet::Create(repo.root1, now));
    for (const auto& r : repo.later_roots) Must(set.UpdateRoot(r));
    Must(set.FinishRootUpdate());
    Must(set.UpdateTimestamp(repo.timestamp).status());
    Must(set.UpdateSnapshot(repo.snapshot, false));
    Must(set.UpdateTargets(repo.targets));
    if (set.targets()->signed_.targets.size() != static_cast<size_t>(n_targets)) return -1;
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

int Metadata(const std::string& work, int n_targets, int root_versions) {
  const std::string md = work + "/repo/metadata";
  fs::create_directories(md);
  const int64_t now = SystemClock().WallSeconds();
  const BenchRepo repo = WriteRepo(md, n_targets, root_versions, now + 86400 * 30);
  const double best = TimeRefresh(work, md, repo, n_targets);
  const double best_verify = TimeVerify(repo, n_targets, now);
  if (best < 0 || best_verify < 0) return 1;
  std::printf("%.1f %.1f\n", best, best_verify);
  return 0;
}

int Bundle(const std::string& path, const std::string& metadata_dir, const std::string& hw) {
  double best = 1e9;
  for (int run = 0; run < 3; ++run) {
    uint64_t total = 0;
    const auto start = std::chrono::steady_clock::now();
    bundle::ReaderOptions o;
    o.metadata_dir = metadata_dir;
    o.policy = {hw, 0};
    Must(bundle::ReadBundleFile(path, o, [&](uint64_t, ByteSpan chunk) {
           total += chunk.size();
           return Status::Ok();
         }).status());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::printf("%.3f\n", best);
  return 0;
}

}  // namespace
}  // namespace fw

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "metadata" && argc == 5) return fw::Metadata(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
  if (mode == "bundle" && argc == 5) return fw::Bundle(argv[2], argv[3], argv[4]);
  std::fprintf(stderr, "usage: tuf_bench metadata WORKDIR TARGETS ROOT_VERSIONS | bundle BUNDLE METADATA_DIR HW\n");
  return 2;
}
