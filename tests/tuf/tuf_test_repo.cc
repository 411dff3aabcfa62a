#include "tuf_test_repo.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "fw/encoding.h"
#include "fw/file_io.h"

namespace fw::tuf::testing {
namespace {

RoleSigner NewSigner() {
  auto k = PrivateKey::Generate(KeyType::kEd25519);
  if (!k.ok()) throw std::runtime_error("keygen");
  auto t = Key::FromPublicKey(k->public_key());
  std::string id = t->KeyId();
  return RoleSigner{KeySigner(std::move(*k)), id};
}

template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) throw std::runtime_error(r.status().message());
  return std::move(r).value();
}

}  // namespace

TestRepo::TestRepo() {
  root.consistent_snapshot = true;
  root.common.version = 0;  // PublishRoot bumps to 1
  for (const char* role : {"root", "timestamp", "snapshot", "targets"}) RotateKey(role);
  targets.common.version = 0;
  snapshot.common.version = 0;
  timestamp.common.version = 0;
  PublishRoot();
  Publish();
}

RoleSigner& TestRepo::RotateKey(const std::string& role) {
  auto& list = signers[role];
  list.clear();
  list.push_back(NewSigner());
  RoleKeys rk;
  rk.keyids = {list.back().keyid};
  rk.threshold = 1;
  root.roles[role] = rk;
  root.keys[list.back().keyid] = Must(Key::FromPublicKey(list.back().key.public_key()));
  return list.back();
}

RoleSigner& TestRepo::AddKey(const std::string& role) {
  auto& list = signers[role];
  list.push_back(NewSigner());
  root.roles[role].keyids.push_back(list.back().keyid);
  root.keys[list.back().keyid] = Must(Key::FromPublicKey(list.back().key.public_key()));
  return list.back();
}

void TestRepo::AddTarget(const std::string& path, const std::string& content, const std::string& role) {
  TargetFile tf;
  tf.length = content.size();
  const std::string hash = HexEncode(Sha256::Of(AsBytes(content)));
  tf.hashes["sha256"] = hash;
  Targets& t = role == "targets" ? targets : delegated.at(role);
  t.targets[path] = tf;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  files["targets/" + PercentEncode(dir + hash + "." + base, true)] = content;
}

void TestRepo::Delegate(const std::string& name, std::vector<std::string> paths, bool terminating,
                        const std::string& delegator) {
  Targets& parent = delegator == "targets" ? targets : delegated.at(delegator);
  if (!parent.delegations) parent.delegations = Delegations{};
  auto& list = signers[name];
  list.clear();
  list.push_back(NewSigner());
  parent.delegations->keys[list.back().keyid] = Must(Key::FromPublicKey(list.back().key.public_key()));
  DelegatedRole r;
  r.name = name;
  r.keys.keyids = {list.back().keyid};
  r.terminating = terminating;
  r.paths = std::move(paths);
  parent.delegations->roles.push_back(r);
  Targets t;
  t.common.version = 0;
  delegated[name] = t;
}

std::string TestRepo::Sign(const std::string& signed_bytes, const std::vector<const Signer*>& keys) const {
  std::vector<Signature> sigs;
  for (const auto* k : keys) sigs.push_back(Must(SignBytes(signed_bytes, *k)));
  return SerializeEnvelope(signed_bytes, sigs);
}

template <typename T>
std::string TestRepo::SignWithRole(const T& value, const std::string& role) const {
  std::vector<const Signer*> keys;
  for (const auto& s : signers.at(role)) keys.push_back(&s.key);
  return Sign(Must(SerializeSigned(value)), keys);
}
template std::string TestRepo::SignWithRole<Root>(const Root&, const std::string&) const;
template std::string TestRepo::SignWithRole<Timestamp>(const Timestamp&, const std::string&) const;
template std::string TestRepo::SignWithRole<Snapshot>(const Snapshot&, const std::string&) const;
template std::string TestRepo::SignWithRole<Targets>(const Targets&, const std::string&) const;

void TestRepo::PublishRoot(const std::vector<const Signer*>& extra_signers) {
  root.common.version += 1;
  root.common.SetExpires(expires);
  std::vector<const Signer*> keys = extra_signers;
  for (const auto& s : signers.at("root")) keys.push_back(&s.key);
  const std::string bytes = Sign(Must(SerializeSigned(root)), keys);
  files["metadata/" + std::to_string(root.common.version) + ".root.json"] = bytes;
}

void TestRepo::Publish() {
  for (auto& [name, t] : delegated) {
    t.common.version += 1;
    t.common.SetExpires(expires);
    const std::string bytes = SignWithRole(t, name);
    files["metadata/" + std::to_string(t.common.version) + "." + PercentEncode(name) + ".json"] = bytes;
    snapshot.meta[name + ".json"] = MetaFile{t.common.version, std::nullopt, {}, ""};
  }
  targets.common.version += 1;
  targets.common.SetExpires(expires);
  const std::string tbytes = SignWithRole(targets, "targets");
  files["metadata/" + std::to_string(targets.common.version) + ".targets.json"] = tbytes;
  snapshot.meta["targets.json"] = MetaFile{targets.common.version, std::nullopt, {}, ""};
  snapshot.common.version += 1;
  snapshot.common.SetExpires(expires);
  const std::string sbytes = SignWithRole(snapshot, "snapshot");
  files["metadata/" + std::to_string(snapshot.common.version) + ".snapshot.json"] = sbytes;
  timestamp.common.version += 1;
  timestamp.common.SetExpires(expires);
  timestamp.snapshot_meta =
      MetaFile{snapshot.common.version, sbytes.size(), {{"sha256", HexEncode(Sha256::Of(AsBytes(sbytes)))}}, ""};
  files["metadata/timestamp.json"] = SignWithRole(timestamp, "timestamp");
}

Status RepoFetcher::Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) {
  requests.push_back(url);
  if (!endless_suffix.empty() && url.ends_with(endless_suffix)) {
    const std::string piece(4096, ' ');
    for (uint64_t sent = 0; sent < (1ull << 30); sent += piece.size()) {
      if (!ignore_cap && sent + piece.size() > max_bytes) return ResourceExhausted(url + ": over the cap");
      FW_RETURN_IF_ERROR(sink(AsBytes(piece)));
    }
    return Internal("endless response was never cut");
  }
  if (url.rfind(kBase, 0) != 0) return NotFound(url + ": 404");
  auto it = files_.find(url.substr(std::string(kBase).size()));
  if (it == files_.end()) return NotFound(url + ": 404");
  if (!ignore_cap && it->second.size() > max_bytes) return ResourceExhausted(url + ": over the cap");
  // Deliver in pieces like a network would.
  std::string_view body = it->second;
  for (size_t off = 0; off < body.size(); off += 1000) {
    FW_RETURN_IF_ERROR(sink(AsBytes(body.substr(off, 1000))));
  }
  return Status::Ok();
}

Status DirFetcher::Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) {
  requests.push_back(url);
  if (url.rfind(kBase, 0) != 0) return NotFound(url + ": 404");
  std::string rel = url.substr(std::string(kBase).size());
  // Undo percent-encoding (targets with unusual names).
  std::string path;
  for (size_t i = 0; i < rel.size(); ++i) {
    if (rel[i] == '%' && i + 2 < rel.size()) {
      path.push_back(static_cast<char>(std::stoi(rel.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      path.push_back(rel[i]);
    }
  }
  auto data = ReadFileToString(dir_ + "/" + path, max_bytes);
  if (!data.ok()) {
    return data.status().code() == ErrorCode::kResourceExhausted ? data.status() : NotFound(url + ": 404");
  }
  return sink(AsBytes(*data));
}

}  // namespace fw::tuf::testing
