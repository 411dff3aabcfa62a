// fwsign repo stage | show-role | sign-role | merge: offline k-of-n signing of root and
// targets (fw/tuf_offline.h, manifests/docs/tuf.md "Offline k-of-n signing").
#include "fwsign_offline_cmds.h"

#include <unistd.h>

#include <iostream>

#include "fw/clock.h"
#include "fw/file_io.h"
#include "fw/key_files.h"
#include "fw/open_signer.h"
#include "fw/tuf_offline.h"
#include "fw/tuf_repo.h"

namespace fw {
namespace {

using cli::Invocation;
namespace po = cli::po;

int64_t Now() { return SystemClock().WallSeconds(); }

Status WriteNew(const std::string& path, const std::string& bytes, bool force) {
  if (!force && ::access(path.c_str(), F_OK) == 0) {
    return FailedPrecondition(path + " exists (pass --force to replace it)");
  }
  return WriteFileAtomic(path, bytes);
}

int StageCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  const std::string repo = vm["repo"].as<std::string>();
  const std::string role = vm["role"].as<std::string>();
  const std::string out = vm["output"].as<std::string>();
  const uint32_t days = vm.count("expires-days") ? vm["expires-days"].as<uint32_t>() : 0;
  std::string signed_bytes;
  if (role == "root") {
    std::optional<tuf::RoleChange> change;
    if (vm.count("change-role")) {
      change.emplace();
      change->role = vm["change-role"].as<std::string>();
      change->threshold = vm["threshold"].as<uint32_t>();
      for (const auto& path : vm["new-key"].as<std::vector<std::string>>()) {
        auto k = LoadAnyPublicKey(path, std::nullopt);
        if (!k.ok()) return cli::Fail(inv, k.status().WithContext(path));
        change->keys.push_back(std::move(*k));
      }
    }
    auto next = tuf::RepoNextRoot(repo, change, days, Now());
    if (!next.ok()) return cli::Fail(inv, next.status().WithContext("repo stage"));
    auto s = tuf::SerializeSigned(*next);
    if (!s.ok()) return cli::Fail(inv, s.status());
    signed_bytes = *s;
  } else if (role == "targets") {
    auto next = tuf::RepoNextTargets(repo, days, Now());
    if (!next.ok()) return cli::Fail(inv, next.status().WithContext("repo stage"));
    auto s = tuf::SerializeSigned(*next);
    if (!s.ok()) return cli::Fail(inv, s.status());
    signed_bytes = *s;
  } else {
    return cli::Fail(inv, InvalidArgument("repo stage: ROLE must be root or targets, not \"" + role + "\""));
  }
  auto parsed = tuf::ParseOfflineRole(tuf::SerializeEnvelope(signed_bytes, {}));
  if (!parsed.ok()) return cli::Fail(inv, parsed.status().WithContext("repo stage (internal check)"));
  Status w = WriteNew(out, parsed->Serialize(), vm.count("force") > 0);
  if (!w.ok()) return cli::Fail(inv, w.WithContext("repo stage"));
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"role", role},
                    {"version", parsed->common().version},
                    {"expires", parsed->common().expires},
                    {"fingerprint", parsed->Fingerprint()},
                    {"file", out}});
  } else {
    std::cout << "staged unsigned " << role << " version " << parsed->common().version << " in " << out
              << "\n  fingerprint " << parsed->Fingerprint() << "\n  each holder: fwsign repo sign-role " << out
              << " --key KEY [--repo " << repo << "]"
              << "\n  then:        fwsign repo merge " << repo << " COPY [COPY ...]\n";
  }
  return cli::kExitOk;
}

// repo init-offline: like repo init, but root v1 is staged unsigned (root keys are public keys).
int InitOfflineCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  tuf::RepoInitOptions o;
  for (const auto& spec : vm["root-key"].as<std::vector<std::string>>()) {
    auto k = LoadAnyPublicKey(spec, std::nullopt);
    if (!k.ok()) return cli::Fail(inv, k.status().WithContext(spec));
    o.root_keys.push_back(std::move(*k));
  }
  std::optional<std::string> pass;
  if (vm.count("passphrase-file")) {
    auto p = cli::ReadPassphraseFile(vm["passphrase-file"].as<std::string>());
    if (!p.ok()) return cli::Fail(inv, p.status());
    pass = *p;
  }
  std::vector<std::unique_ptr<Signer>> signers;
  tuf::Keyring keyring;
  for (auto [option, keys] : {std::pair{"targets-key", &o.targets_keys}, std::pair{"snapshot-key", &o.snapshot_keys},
                              std::pair{"timestamp-key", &o.timestamp_keys}}) {
    for (const auto& spec : vm[option].as<std::vector<std::string>>()) {
      auto signer = OpenSigner(spec, SignerOptions{pass});
      if (!signer.ok()) return cli::Fail(inv, signer.status().WithContext(spec));
      keys->push_back((*signer)->public_key());
      keyring.push_back(signer->get());
      signers.push_back(std::move(*signer));
    }
  }
  o.root_threshold = vm["root-threshold"].as<uint32_t>();
  o.targets_threshold = vm["targets-threshold"].as<uint32_t>();
  o.snapshot_threshold = vm["snapshot-threshold"].as<uint32_t>();
  o.timestamp_threshold = vm["timestamp-threshold"].as<uint32_t>();
  o.consistent_snapshot = vm.count("no-consistent-snapshot") == 0;
  o.offline_root = vm["output"].as<std::string>();
  const std::string repo = vm["repo"].as<std::string>();
  if (::access(o.offline_root.c_str(), F_OK) == 0) {
    return cli::Fail(inv, FailedPrecondition(o.offline_root + " exists"));
  }
  Status s = tuf::RepoInit(repo, o, keyring, Now());
  if (!s.ok()) return cli::Fail(inv, s.WithContext("repo init-offline"));
  auto role = tuf::ReadOfflineRole(o.offline_root);
  if (!role.ok()) return cli::Fail(inv, role.status());
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"repo", repo}, {"file", o.offline_root}, {"fingerprint", role->Fingerprint()}});
  } else {
    std::cout << "initialised " << repo << " without its root: unsigned root version 1 in " << o.offline_root
              << "\n  fingerprint " << role->Fingerprint() << "\n  each holder: fwsign repo sign-role "
              << o.offline_root << " --key KEY; then: fwsign repo merge " << repo << " COPY ...\n";
  }
  return cli::kExitOk;
}

// The context from --repo, or none.
Result<tuf::OfflineContext> Context(const po::variables_map& vm, const tuf::OfflineRole& role) {
  if (!vm.count("repo")) return tuf::OfflineContext{};
  return tuf::LoadOfflineContext(vm["repo"].as<std::string>(), role);
}

int ShowRoleCmd(const Invocation& inv) {
  const std::string file = inv.vm["file"].as<std::string>();
  auto role = tuf::ReadOfflineRole(file);
  if (!role.ok()) return cli::Fail(inv, role.status());
  auto ctx = Context(inv.vm, *role);
  if (!ctx.ok()) return cli::Fail(inv, ctx.status());
  Status sigs = tuf::CheckSignatures(*role, *ctx, file);
  if (!inv.json) std::cout << tuf::DescribeOfflineRole(*role, *ctx, Now());
  if (!sigs.ok()) return cli::Fail(inv, sigs);
  if (inv.json) {
    nlohmann::json counts = nlohmann::json::array();
    for (const auto& t : tuf::CountThresholds(*role, *ctx)) {
      counts.push_back({{"what", t.what}, {"needed", t.needed}, {"listed", t.listed}, {"valid", t.valid}});
    }
    nlohmann::json signers = nlohmann::json::array();
    for (const auto& sig : role->signatures) signers.push_back(sig.keyid);
    cli::PrintJson({{"ok", true},
                    {"role", tuf::RoleTypeName(role->type)},
                    {"version", role->common().version},
                    {"expires", role->common().expires},
                    {"fingerprint", role->Fingerprint()},
                    {"signed_by", signers},
                    {"thresholds", counts}});
  }
  return cli::kExitOk;
}

// --yes, or y on a terminal.
Result<bool> Confirmed(const Invocation& inv, const std::string& question) {
  if (inv.vm.count("yes")) return true;
  if (inv.json || !::isatty(STDIN_FILENO)) {
    return InvalidArgument("not signed: confirm with --yes (or run it on a terminal and answer y)");
  }
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int SignRoleCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  const std::string file = vm["file"].as<std::string>();
  const std::string out = vm.count("output") ? vm["output"].as<std::string>() : file;
  auto role = tuf::ReadOfflineRole(file);
  if (!role.ok()) return cli::Fail(inv, role.status().WithContext("repo sign-role"));
  auto ctx = Context(vm, *role);
  if (!ctx.ok()) return cli::Fail(inv, ctx.status().WithContext("repo sign-role"));
  // Signatures already present must still verify: otherwise the file changed after someone signed it.
  if (Status s = tuf::CheckSignatures(*role, *ctx, file); !s.ok()) return cli::Fail(inv, s);
  std::optional<std::string> pass;
  if (vm.count("passphrase-file")) {
    auto p = cli::ReadPassphraseFile(vm["passphrase-file"].as<std::string>());
    if (!p.ok()) return cli::Fail(inv, p.status());
    pass = *p;
  }
  const std::string key_spec = vm["key"].as<std::string>();
  auto signer = OpenSigner(key_spec, SignerOptions{pass});
  if (!signer.ok()) return cli::Fail(inv, signer.status().WithContext(key_spec));
  auto key = tuf::Key::FromPublicKey((*signer)->public_key());
  if (!key.ok()) return cli::Fail(inv, key.status());
  // The holder sees what they sign (on stderr with --json, so stdout stays one JSON document).
  (inv.json ? std::cerr : std::cout) << tuf::DescribeOfflineRole(*role, *ctx, Now())
                                     << "signing key: " << (*signer)->describe() << ", key id " << key->KeyId() << "\n";
  const std::string what =
      std::string(tuf::RoleTypeName(role->type)) + " version " + std::to_string(role->common().version);
  if (role->common().IsExpiredAt(Now())) {
    return cli::Fail(inv, FailedPrecondition(what + " expired at " + role->common().expires + "; stage it again"));
  }
  auto yes = Confirmed(inv, "Sign " + what + " with this key?");
  if (!yes.ok()) return cli::Fail(inv, yes.status());
  if (!*yes) {
    std::cerr << inv.command << ": not signed (declined)\n";
    return cli::kExitFailure;
  }
  Status s = tuf::AddOfflineSignature(*role, *ctx, **signer);
  if (!s.ok()) return cli::Fail(inv, s.WithContext("repo sign-role"));
  s = WriteFileAtomic(out, role->Serialize());
  if (!s.ok()) return cli::Fail(inv, s.WithContext("repo sign-role"));
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"role", tuf::RoleTypeName(role->type)},
                    {"version", role->common().version},
                    {"fingerprint", role->Fingerprint()},
                    {"keyid", key->KeyId()},
                    {"signatures", role->signatures.size()},
                    {"file", out}});
  } else {
    std::cout << "signed " << what << " with key " << key->KeyId() << " -> " << out << " (" << role->signatures.size()
              << " signature(s))\n";
  }
  return cli::kExitOk;
}

int MergeCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  const std::string repo = vm["repo"].as<std::string>();
  std::vector<std::pair<std::string, tuf::OfflineRole>> copies;
  for (const auto& path : vm["files"].as<std::vector<std::string>>()) {
    auto role = tuf::ReadOfflineRole(path);
    if (!role.ok()) return cli::Fail(inv, role.status().WithContext("repo merge"));
    copies.emplace_back(path, std::move(*role));
  }
  auto ctx = tuf::LoadOfflineContext(repo, copies.front().second);
  if (!ctx.ok()) return cli::Fail(inv, ctx.status().WithContext("repo merge"));
  auto merged = tuf::MergeOfflineRoles(copies, *ctx);
  if (!merged.ok()) return cli::Fail(inv, merged.status().WithContext("repo merge"));
  for (const auto& id : merged->ignored_keyids) {
    std::cerr << "fwsign repo merge: ignored the signature by key " << id << ": not a key of this role\n";
  }
  const tuf::OfflineRole& role = merged->merged;
  const std::string what =
      std::string(tuf::RoleTypeName(role.type)) + " version " + std::to_string(role.common().version);
  Status s = Status::Ok();
  if (vm.count("output")) {
    s = WriteFileAtomic(vm["output"].as<std::string>(), role.Serialize());
  } else {
    s = tuf::PublishOfflineRole(repo, *merged, Now());
  }
  if (!s.ok()) return cli::Fail(inv, s.WithContext("repo merge: " + what));
  nlohmann::json counts = nlohmann::json::array();
  for (const auto& t : merged->thresholds) {
    counts.push_back({{"what", t.what}, {"needed", t.needed}, {"listed", t.listed}, {"valid", t.valid}});
  }
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"role", tuf::RoleTypeName(role.type)},
                    {"version", role.common().version},
                    {"published", vm.count("output") == 0},
                    {"thresholds", counts},
                    {"ignored_keyids", merged->ignored_keyids}});
    return cli::kExitOk;
  }
  if (vm.count("output")) {
    std::cout << "merged " << role.signatures.size() << " signature(s) of " << what << " into "
              << vm["output"].as<std::string>() << "\n";
  } else {
    std::cout << "published " << what << " in " << repo << "/metadata\n";
  }
  for (const auto& t : merged->thresholds) std::cout << "  " << t.Describe() << (t.met() ? "" : " (not met)") << "\n";
  if (!vm.count("output") && role.targets) {
    std::cout << "  next: fwsign repo publish " << repo << " --key SNAPSHOT_KEY --key TIMESTAMP_KEY\n";
  }
  return cli::kExitOk;
}

}  // namespace

void AddOfflineSigningCommands(cli::Program& p) {
  p.commands.push_back(
      {"repo stage",
       "write the unsigned next root or targets version for offline k-of-n signing",
       "REPO root|targets -o FILE [--change-role R --new-key PUB ... --threshold N] [--expires-days D]",
       [](po::options_description& o, po::positional_options_description& pos) {
         o.add_options()("repo", po::value<std::string>()->required(), "repository directory")(
             "role", po::value<std::string>()->required(), "root | targets")(
             "output,o", po::value<std::string>()->required(), "role file to write (unsigned)")(
             "change-role", po::value<std::string>(), "root only: replace this role's keys and threshold")(
             "new-key", po::value<std::vector<std::string>>(), "with --change-role: the role's keys (public)")(
             "threshold", cli::Int<uint32_t>(1, 256)->default_value(1), "with --change-role: the role's threshold")(
             "expires-days", cli::Int<uint32_t>(1, 36500), "lifetime (default: the repository's policy)")(
             "force", "replace FILE if it exists");
         pos.add("repo", 1).add("role", 1);
       },
       StageCmd,
       {},
       [](const po::variables_map& vm) {
         if (vm.count("change-role") != vm.count("new-key")) {
           return InvalidArgument("--change-role and --new-key go together");
         }
         if (vm.count("change-role") && vm["role"].as<std::string>() != "root") {
           return InvalidArgument("--change-role: keys are changed in root, not in " + vm["role"].as<std::string>());
         }
         return Status::Ok();
       }});
  p.commands.push_back(
      {"repo init-offline", "create a TUF repository whose root v1 is signed offline (k of n holders)",
       "REPO --root-key PUB ... --root-threshold N --targets-key K --snapshot-key K --timestamp-key K -o FILE",
       [](po::options_description& o, po::positional_options_description& pos) {
         auto threshold = [] { return cli::Int<uint32_t>(1, 256)->default_value(1); };
         o.add_options()("repo", po::value<std::string>()->required(), "repository directory")(
             "root-key", po::value<std::vector<std::string>>()->required(), "root public key (or URI); repeatable")(
             "targets-key", po::value<std::vector<std::string>>()->required(), "targets private key; repeatable")(
             "snapshot-key", po::value<std::vector<std::string>>()->required(), "snapshot private key; repeatable")(
             "timestamp-key", po::value<std::vector<std::string>>()->required(), "timestamp private key; repeatable")(
             "root-threshold", threshold(), "root signature threshold")(
             "targets-threshold", threshold(), "targets signature threshold")("snapshot-threshold", threshold(),
                                                                              "snapshot signature threshold")(
             "timestamp-threshold", threshold(), "timestamp signature threshold")("no-consistent-snapshot",
                                                                                  "write consistent_snapshot: false")(
             "output,o", po::value<std::string>()->required(), "unsigned root v1 to write")(
             "passphrase-file", po::value<std::string>(), "passphrase for encrypted keys");
         pos.add("repo", 1);
       },
       InitOfflineCmd});
  p.commands.push_back({"repo show-role", "print what an offline role file says and who signed it",
                        "FILE [--repo REPO]",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          o.add_options()("file", po::value<std::string>()->required(), "role file")(
                              "repo", po::value<std::string>(), "published repository to compare with");
                          pos.add("file", 1);
                        },
                        ShowRoleCmd});
  p.commands.push_back(
      {"repo sign-role", "show an offline role file and add one signature to it (after confirmation)",
       "FILE --key K [--repo REPO] [--yes] [-o OUT]",
       [](po::options_description& o, po::positional_options_description& pos) {
         o.add_options()("file", po::value<std::string>()->required(), "role file (signed in place unless -o)")(
             "key,k", po::value<std::string>()->required(), "private key file or pkcs11: URI")(
             "repo", po::value<std::string>(), "published repository (or a copy of its metadata/) to compare with")(
             "yes", "sign without asking (after printing the summary)")("output,o", po::value<std::string>(),
                                                                        "write the signed copy here instead")(
             "passphrase-file", po::value<std::string>(), "passphrase for an encrypted key");
         pos.add("file", 1);
       },
       SignRoleCmd});
  p.commands.push_back({"repo merge", "check and combine the signatures of copies of a role file; publish at threshold",
                        "REPO FILE [FILE ...] [-o OUT]",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          o.add_options()("repo", po::value<std::string>()->required(), "repository directory")(
                              "files", po::value<std::vector<std::string>>()->required(),
                              "signed copies of one role file")("output,o", po::value<std::string>(),
                                                                "write the merged file here instead of publishing");
                          pos.add("repo", 1).add("files", -1);
                        },
                        MergeCmd});
}

}  // namespace fw
