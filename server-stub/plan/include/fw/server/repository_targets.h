// The firmware the fleet server's repository offers (server-stub/plan, lib fw_server_plan): the
// targets of DIR/repo read through TUF's own rules, so an operator only ever picks firmware that
// terminals will accept — derived from the signed bytes, never from our own notes about them.
//
// Contract:
//  - LoadRepositoryTargets(repo_dir, now_s): reads metadata/1.root.json, then N.root.json up the
//    chain (TrustedSet::UpdateRoot), timestamp.json, the snapshot and targets it names (consistent
//    snapshot file names when the root says so), with the same caps and checks as the terminal's
//    client (fw/tuf_trusted_set.h) at reference time now_s. Any failure is the TUF error with the
//    file's name (kCorrupt / kVerificationFailed / kNotFound for a missing file; expired metadata
//    is an error: terminals would refuse it too). Delegated roles are not walked (documented).
//  - Each target carries its path, length, sha256 and its firmware facts (targets without
//    custom.firmware are listed with has_firmware = false and can never be planned).
//  - RepositoryCache: reloads when metadata/timestamp.json's (mtime, size) changed or the last good
//    result's valid_until_s has passed, else returns the last result (a failed load too: the
//    operator must see that the repository is broken).
// Thread safety: LoadRepositoryTargets is pure I/O; a RepositoryCache belongs to one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::server {

struct RepositoryTarget {
  std::string path;  // TUF target path, e.g. "pos-x1/firmware-2.1.0.ptfw"
  uint64_t length = 0;
  std::string sha256_hex;
  bool has_firmware = false;
  tuf::FirmwareFacts firmware;  // when has_firmware
};

struct RepositoryTargets {
  int64_t root_version = 0;
  int64_t targets_version = 0;
  int64_t targets_expires_s = 0;
  int64_t valid_until_s = 0;              // the earliest expiry of root, timestamp, snapshot and targets
  std::vector<RepositoryTarget> targets;  // sorted by path
  const RepositoryTarget* Find(const std::string& path) const;
};

Result<RepositoryTargets> LoadRepositoryTargets(const std::string& repo_dir, int64_t now_s);

class RepositoryCache {
 public:
  explicit RepositoryCache(std::string repo_dir) : repo_dir_(std::move(repo_dir)) {}
  Result<RepositoryTargets> Get(int64_t now_s);

 private:
  std::string repo_dir_;
  int64_t mtime_ns_ = -1;
  int64_t size_ = -1;
  std::optional<Result<RepositoryTargets>> last_;
};

}  // namespace fw::server
