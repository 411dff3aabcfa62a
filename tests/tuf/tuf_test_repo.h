// An in-memory TUF repository for client tests: real keys, real signatures,
// served through a Fetcher that records requests and lets a test replace any
// response (the attacker's seat).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fw/fetcher.h"
#include "fw/tuf_metadata.h"

namespace fw::tuf::testing {

inline constexpr char kBase[] = "http://repo.test/";

struct RoleSigner {
  KeySigner key;
  std::string keyid;
};

class TestRepo {
 public:
  TestRepo();

  // A new key for `role` (root/timestamp/snapshot/targets), replacing its keys in root.
  RoleSigner& RotateKey(const std::string& role);
  // One more key for `role` (kept alongside the existing ones); threshold unchanged.
  RoleSigner& AddKey(const std::string& role);
  // Adds a target (content served under targets/, hash-prefixed) to top-level targets
  // or to delegated role `role`.
  void AddTarget(const std::string& path, const std::string& content, const std::string& role = "targets");
  // Adds a delegated role of "targets" with its own key.
  void Delegate(const std::string& name, std::vector<std::string> paths, bool terminating,
                const std::string& delegator = "targets");

  // Signs and serves root version root.common.version (bumped first) with the
  // current root keys plus `extra_signers`.
  void PublishRoot(const std::vector<const Signer*>& extra_signers = {});
  // Bumps and signs targets (+ delegated), snapshot and timestamp; serves them.
  void Publish();
  std::string Sign(const std::string& signed_bytes, const std::vector<const Signer*>& keys) const;
  template <typename T>
  std::string SignWithRole(const T& value, const std::string& role) const;

  std::string MetadataUrl() const { return std::string(kBase) + "metadata/"; }
  std::string TargetsUrl() const { return std::string(kBase) + "targets/"; }
  std::string RootV1() const { return files.at("metadata/1.root.json"); }

  Root root;
  Timestamp timestamp;
  Snapshot snapshot;
  Targets targets;
  std::map<std::string, Targets> delegated;
  std::map<std::string, std::vector<RoleSigner>> signers;  // role -> keys
  std::map<std::string, std::string> files;                // served, relative to kBase
  int64_t expires = 4102444800;                            // 2100-01-01
};

// Serves TestRepo::files; records every requested URL. Honours max_bytes like a
// real fetcher unless `ignore_cap` (then the client's own guards must hold).
class RepoFetcher : public net::Fetcher {
 public:
  explicit RepoFetcher(const std::map<std::string, std::string>& files) : files_(files) {}
  Status Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) override;

  std::vector<std::string> requests;
  bool ignore_cap = false;
  std::string endless_suffix;  // URLs ending with it get an endless stream of spaces

 private:
  const std::map<std::string, std::string>& files_;
};

// Serves files of a directory under kBase (a repository written by fwsign repo).
class DirFetcher : public net::Fetcher {
 public:
  explicit DirFetcher(std::string dir) : dir_(std::move(dir)) {}
  Status Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) override;
  std::vector<std::string> requests;

 private:
  std::string dir_;
};

}  // namespace fw::tuf::testing
