#include "fw/journal/snapshot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "backup.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/journal/foreign.h"
#include "fw/journal/journal.h"

namespace fw::journal {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxDescriptorBytes = 64 * 1024;
constexpr const char* kFormatName = "ptfw-journal-snapshot";

Clock& ClockOf(const SnapshotOptions& options) { return options.clock ? *options.clock : SystemClock(); }

bool SafeBaseName(const std::string& s) {
  if (s.empty() || s.size() > 200 || s == "." || s == "..") return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

Result<Digest> DigestFromHex(const nlohmann::json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_string()) return Corrupt(std::string("descriptor: missing string ") + field);
  auto bytes = HexDecode(j[field].get<std::string>());
  if (!bytes.ok()) return bytes.status().WithContext(std::string("descriptor: ") + field);
  if (bytes->size() != 32) return Corrupt(std::string("descriptor: ") + field + " is not 32 bytes of hex");
  Digest d{};
  std::copy(bytes->begin(), bytes->end(), d.begin());
  return d;
}

Result<int64_t> Int(const nlohmann::json& j, const char* field, int64_t min, int64_t max) {
  if (!j.contains(field) || !j[field].is_number_integer()) {
    return Corrupt(std::string("descriptor: missing integer ") + field);
  }
  int64_t v = j[field].is_number_unsigned() && j[field].get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                  ? -1
                  : j[field].get<int64_t>();
  if (v < min || v > max) return Corrupt(std::string("descriptor: ") + field + " out of range");
  return v;
}

Result<std::string> Str(const nlohmann::json& j, const char* field, size_t max) {
  if (!j.contains(field) || !j[field].is_string()) return Corrupt(std::string("descriptor: missing string ") + field);
  auto s = j[field].get<std::string>();
  if (s.size() > max) return Corrupt(std::string("descriptor: ") + field + " is too long");
  return s;
}

Result<std::string> ReadableIdent(const nlohmann::json& j, const char* field) {
  FW_ASSIGN_OR_RETURN(std::string s, Str(j, field, 128));
  if (s.empty()) return Corrupt(std::string("descriptor: ") + field + " is empty");
  return s;
}

std::string Stem(const std::string& file) {
  auto name = fs::path(file).filename().string();
  for (const char* ext : {".json", ".db"}) {
    std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      return name.substr(0, name.size() - e.size());
    }
  }
  return name;
}

Status CopyFileAtomic(const std::string& from, const std::string& to) {
  FW_ASSIGN_OR_RETURN(File in, File::OpenRead(from));
  FW_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Create(to, 0600));
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    FW_ASSIGN_OR_RETURN(size_t n, in.Read(buf));
    if (n == 0) break;
    FW_RETURN_IF_ERROR(out.Write(std::span<const uint8_t>(buf.data(), n)));
  }
  return out.Commit();
}

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create directory " + dir + ": " + ec.message());
  return Status::Ok();
}

// Seconds of monotonic time since it was started (the timings of a snapshot's steps).
class Stopwatch {
 public:
  explicit Stopwatch(Clock& clock) : clock_(&clock), start_ms_(clock.MonotonicMs()) {}
  double Seconds() const { return static_cast<double>(clock_->MonotonicMs() - start_ms_) / 1000.0; }

 private:
  Clock* clock_;
  int64_t start_ms_;
};

// What the verification of a copy found. The SHA-256 is reported apart from the checks:
// a file that is not the described one says so first, whatever else is wrong with it.
struct CopyVerification {
  Status sha_status;
  Digest sha256{};
  Status status;  // integrity_check and the chain
  ChainSummary summary;
};

// Verifies a reference-journal file that nobody writes (a snapshot or its copy), all at
// once on one queue served by one thread per core (Journal::VerifyInRanges): first
// PRAGMA integrity_check and the SHA-256 of the file, then the chain's ranges, which
// keep every core busy until the end. `map`: read through a memory map (the private
// copy a snapshot was just made from, never a stored one).
CopyVerification VerifyReferenceCopy(const std::string& path, const std::string& vfs, bool map,
                                     SnapshotTimings* timings, Clock& clock) {
  double t_integrity = 0, t_sha = 0;
  std::optional<Result<std::string>> ic;
  std::optional<Result<Digest>> file_sha;
  auto check_integrity = [&] {
    Stopwatch t(clock);
    ic = IntegrityCheck(path, vfs, map);
    t_integrity = t.Seconds();
  };
  auto hash_file = [&] {
    Stopwatch t(clock);
    file_sha = Sha256File(path);
    t_sha = t.Seconds();
  };
  RangeVerifyOptions ro;
  ro.alongside = {check_integrity, hash_file};
  Stopwatch t(clock);
  auto verified = [&]() -> Result<VerifyReport> {
    OpenOptions o;
    o.read_only = true;
    o.map_file = map;
    o.vfs = vfs;
    FW_ASSIGN_OR_RETURN(Journal j, Journal::Open(path, o));
    return j.VerifyInRanges(ro);
  }();
  double t_chain = t.Seconds();
  if (!ic) check_integrity();  // the chain's verification failed before it ran them
  if (!file_sha) hash_file();
  if (timings) {
    timings->integrity = t_integrity;
    timings->chain = t_chain;
    timings->sha256 = t_sha;
  }
  CopyVerification out;
  if (file_sha->ok()) {
    out.sha256 = **file_sha;
  } else {
    out.sha_status = file_sha->status().WithContext("SHA-256 of " + path);
  }
  if (!ic->ok()) {
    out.status = ic->status();
  } else if (!(*ic)->empty()) {
    out.status = Corrupt("integrity_check failed: " + **ic);
  } else if (!verified.ok()) {
    out.status = verified.status();
  } else if (!verified->ok()) {
    const auto& p = verified->problems.front();
    out.status = Corrupt("chain verification failed: " + std::to_string(verified->problem_count) +
                         " problem(s), first at record " + std::to_string(p.seq) + ": " + p.what);
  } else {
    out.summary = verified->summary;
  }
  return out;
}

// Publishes a verified copy: (fsync unless `synced`), rename to NAME.db, directory
// fsync, then the descriptor (the commit point), then the host copy.
Result<SnapshotInfo> Publish(const std::string& dir, const std::string& name, const std::string& partial,
                             SnapshotDescriptor d, const SnapshotOptions& options, Result<Digest> file_sha256,
                             bool synced) {
  SnapshotInfo info;
  info.name = name;
  info.db_path = dir + "/" + name + ".db";
  info.descriptor_path = dir + "/" + name + ".json";
  d.file = name + ".db";
  FW_ASSIGN_OR_RETURN(d.file_sha256, std::move(file_sha256));
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(partial));
  FW_ASSIGN_OR_RETURN(d.file_size, f.Size());
  if (!synced) FW_RETURN_IF_ERROR(f.Sync());
  if (::rename(partial.c_str(), info.db_path.c_str()) != 0) {
    return IoError("cannot rename " + partial + ": " + ErrnoText(errno));
  }
  FW_RETURN_IF_ERROR(SyncParentDir(info.db_path));
  // The descriptor is the commit point of the snapshot.
  Status s = WriteFileAtomic(info.descriptor_path, SerializeDescriptor(d), 0600);
  if (!s.ok()) {
    ::unlink(info.db_path.c_str());
    return s.WithContext("write snapshot descriptor");
  }
  info.descriptor = std::move(d);
  if (options.host_dir) {
    FW_RETURN_IF_ERROR_CTX(MakeDirs(*options.host_dir), "host copy");
    FW_RETURN_IF_ERROR_CTX(CopyFileAtomic(info.db_path, *options.host_dir + "/" + name + ".db"), "host copy");
    FW_RETURN_IF_ERROR_CTX(
        WriteFileAtomic(*options.host_dir + "/" + name + ".json", SerializeDescriptor(info.descriptor), 0600),
        "host copy");
  }
  return info;
}

Result<std::string> NewName(const std::string& dir, int64_t created_ms) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "snap-%013lld", static_cast<long long>(created_ms));
  for (int n = 0; n < 1000; ++n) {
    std::string name = std::string(stamp) + "-" + std::to_string(n);
    if (!fs::exists(dir + "/" + name + ".db") && !fs::exists(dir + "/" + name + ".json") &&
        !fs::exists(dir + "/" + name + ".partial")) {
      return name;
    }
  }
  return Internal("cannot find a free snapshot name in " + dir);
}

// A backup-API copy of a database as DIR/NAME.partial under a fresh snapshot name.
// The partial file is deleted on destruction (after Publish renamed it, that is a no-op).
class PartialCopy {
 public:
  // `durable`: the copy is synced before this returns; else the caller syncs it.
  static Result<std::unique_ptr<PartialCopy>> Make(const std::string& dir, const std::string& src, int64_t created_ms,
                                                   const SnapshotOptions& options, bool durable) {
    FW_ASSIGN_OR_RETURN(std::string name, NewName(dir, created_ms));
    std::unique_ptr<PartialCopy> copy(new PartialCopy(name, dir + "/" + name + ".partial"));
    FW_RETURN_IF_ERROR(
        BackupFile(src, copy->path_, options.vfs, options.lock_timeout_ms, "delete", durable, ClockOf(options)));
    return copy;
  }
  ~PartialCopy() { ::unlink(path_.c_str()); }
  PartialCopy(const PartialCopy&) = delete;
  PartialCopy& operator=(const PartialCopy&) = delete;
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }

 private:
  PartialCopy(std::string name, std::string path) : name_(std::move(name)), path_(std::move(path)) {}
  std::string name_;
  std::string path_;
};

}  // namespace

std::string SerializeDescriptor(const SnapshotDescriptor& d) {
  nlohmann::ordered_json j;
  j["format"] = kFormatName;
  j["format_version"] = SnapshotDescriptor::kFormatVersion;
  j["kind"] = d.kind;
  j["file"] = d.file;
  j["file_size"] = d.file_size;
  j["file_sha256"] = HexEncode(d.file_sha256);
  j["record_count"] = d.record_count;
  j["first_seq"] = d.first_seq;
  j["last_seq"] = d.last_seq;
  j["chain_head"] = HexEncode(d.chain_head);
  j["schema_version"] = d.schema_version;
  j["firmware_version"] = d.firmware_version;
  j["created_ms"] = d.created_ms;
  j["source"] = d.source;
  if (d.foreign) {
    j["foreign"] = {
        {"table", d.foreign->table}, {"order_column", d.foreign->order_column}, {"columns", d.foreign->columns}};
  }
  return j.dump(2) + "\n";
}

Result<SnapshotDescriptor> ParseDescriptor(std::string_view text) {
  if (text.size() > kMaxDescriptorBytes) return Corrupt("descriptor is larger than 64 KiB");
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corrupt("descriptor is not a JSON object");
  FW_ASSIGN_OR_RETURN(std::string format, Str(j, "format", 64));
  if (format != kFormatName) return Corrupt("descriptor format is '" + format + "', expected " + kFormatName);
  FW_ASSIGN_OR_RETURN(int64_t fv, Int(j, "format_version", 0, 1000));
  if (fv != SnapshotDescriptor::kFormatVersion) {
    return Unsupported("descriptor format version " + std::to_string(fv) + " is not supported (expected 1)");
  }
  SnapshotDescriptor d;
  FW_ASSIGN_OR_RETURN(d.kind, Str(j, "kind", 16));
  if (d.kind != "reference" && d.kind != "foreign") return Corrupt("descriptor kind must be reference or foreign");
  FW_ASSIGN_OR_RETURN(d.file, Str(j, "file", 200));
  if (!SafeBaseName(d.file)) return Corrupt("descriptor file name '" + d.file + "' is not a plain file name");
  FW_ASSIGN_OR_RETURN(int64_t size, Int(j, "file_size", 0, INT64_MAX));
  d.file_size = static_cast<uint64_t>(size);
  FW_ASSIGN_OR_RETURN(d.file_sha256, DigestFromHex(j, "file_sha256"));
  FW_ASSIGN_OR_RETURN(d.record_count, Int(j, "record_count", 0, INT64_MAX));
  FW_ASSIGN_OR_RETURN(d.first_seq, Int(j, "first_seq", INT64_MIN, INT64_MAX));
  FW_ASSIGN_OR_RETURN(d.last_seq, Int(j, "last_seq", INT64_MIN, INT64_MAX));
  if (d.record_count > 0 && d.first_seq > d.last_seq) return Corrupt("descriptor first_seq exceeds last_seq");
  FW_ASSIGN_OR_RETURN(d.chain_head, DigestFromHex(j, "chain_head"));
  FW_ASSIGN_OR_RETURN(int64_t sv, Int(j, "schema_version", 0, 1000000));
  d.schema_version = static_cast<int>(sv);
  FW_ASSIGN_OR_RETURN(d.firmware_version, Str(j, "firmware_version", 128));
  FW_ASSIGN_OR_RETURN(d.created_ms, Int(j, "created_ms", 0, INT64_MAX));
  FW_ASSIGN_OR_RETURN(d.source, Str(j, "source", 4096));
  if (d.kind == "foreign") {
    if (!j.contains("foreign") || !j["foreign"].is_object()) return Corrupt("foreign descriptor lacks 'foreign'");
    const auto& f = j["foreign"];
    ForeignSpec spec;
    FW_ASSIGN_OR_RETURN(spec.table, ReadableIdent(f, "table"));
    FW_ASSIGN_OR_RETURN(spec.order_column, ReadableIdent(f, "order_column"));
    if (!f.contains("columns") || !f["columns"].is_array() || f["columns"].empty() || f["columns"].size() > 256) {
      return Corrupt("descriptor foreign.columns must be a non-empty array");
    }
    for (const auto& c : f["columns"]) {
      if (!c.is_string() || c.get<std::string>().empty() || c.get<std::string>().size() > 128) {
        return Corrupt("descriptor foreign.columns holds a bad name");
      }
      spec.columns.push_back(c.get<std::string>());
    }
    d.foreign = std::move(spec);
  }
  return d;
}

Result<SnapshotInfo> LoadSnapshot(const std::string& path) {
  std::string dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path().string() : ".";
  std::string stem = Stem(path);
  SnapshotInfo info;
  info.name = stem;
  info.descriptor_path = dir + "/" + stem + ".json";
  FW_ASSIGN_OR_RETURN(std::string text,
                      ReadFileToString(info.descriptor_path, kMaxDescriptorBytes).WithContext("snapshot " + stem));
  auto d = ParseDescriptor(text);
  if (!d.ok()) return d.status().WithContext(info.descriptor_path);
  info.descriptor = std::move(*d);
  info.db_path = dir + "/" + info.descriptor.file;
  if (!fs::exists(info.db_path)) return NotFound("snapshot file " + info.db_path + " is missing");
  return info;
}

namespace {

// Appends "FIELD: descriptor says D, the file holds F" when they differ.
template <typename T>
void Disagree(std::vector<std::string>& out, const char* field, const T& said, const T& held) {
  if (said == held) return;
  std::string d, f;
  if constexpr (std::is_same_v<T, Digest>) {
    d = HexEncode(said);
    f = HexEncode(held);
  } else {
    d = std::to_string(said);
    f = std::to_string(held);
  }
  out.push_back(std::string(field) + ": descriptor says " + d + ", the file holds " + f);
}

Status Disagreement(const std::string& ctx, const std::vector<std::string>& figures) {
  std::string text;
  for (const auto& f : figures) text += (text.empty() ? "" : "; ") + f;
  return VerificationFailed(ctx + ": the snapshot file does not match its descriptor (" + text +
                            "); the descriptor is not evidence, the snapshot is refused");
}

}  // namespace

Result<SnapshotEvidence> DeriveSnapshotEvidence(const SnapshotInfo& snap, const std::string& vfs) {
  const auto& d = snap.descriptor;
  auto ctx = "snapshot " + snap.name;
  SnapshotEvidence ev;
  {
    FW_ASSIGN_OR_RETURN(File f, File::OpenRead(snap.db_path).WithContext(ctx));
    FW_ASSIGN_OR_RETURN(ev.file_size, f.Size().WithContext(ctx));
  }
  std::vector<std::string> bad;
  Disagree(bad, "file_size", d.file_size, ev.file_size);
  if (d.kind == "foreign") {
    FW_ASSIGN_OR_RETURN(ev.file_sha256, Sha256File(snap.db_path).WithContext(ctx));
    Disagree(bad, "file_sha256", d.file_sha256, ev.file_sha256);
    if (!bad.empty()) return Disagreement(ctx, bad);
    FW_ASSIGN_OR_RETURN(auto ic, IntegrityCheck(snap.db_path, vfs).WithContext(ctx));
    if (!ic.empty()) return Corrupt(ctx + ": integrity_check failed: " + ic);
    FW_ASSIGN_OR_RETURN(auto rows, ReadForeignRows(snap.db_path, *d.foreign, std::nullopt, vfs).WithContext(ctx));
    ev.summary.record_count = static_cast<int64_t>(rows.size());
    ev.summary.first_seq = rows.empty() ? 0 : rows.front().key;
    ev.summary.last_seq = rows.empty() ? 0 : rows.back().key;
    ev.summary.head = ForeignAggregate(rows);
    ev.summary.schema_version = 0;
  } else {
    if (!bad.empty()) return Disagreement(ctx, bad);  // a truncated or grown file: nothing else is read
    CopyVerification v = VerifyReferenceCopy(snap.db_path, vfs, /*map=*/false, nullptr, SystemClock());
    if (!v.sha_status.ok()) return v.sha_status.WithContext(ctx);
    ev.file_sha256 = v.sha256;
    Disagree(bad, "file_sha256", d.file_sha256, ev.file_sha256);
    if (!bad.empty()) return Disagreement(ctx, bad);
    if (!v.status.ok()) return v.status.WithContext(ctx);
    ev.summary = v.summary;
  }
  const ChainSummary& s = ev.summary;
  Disagree(bad, "record_count", d.record_count, s.record_count);
  Disagree(bad, "first_seq", d.first_seq, s.first_seq);
  Disagree(bad, "last_seq", d.last_seq, s.last_seq);
  Disagree(bad, "chain_head", d.chain_head, s.head);
  Disagree(bad, "schema_version", d.schema_version, s.schema_version);
  if (!bad.empty()) return Disagreement(ctx, bad);
  return ev;
}

Status VerifySnapshot(const SnapshotInfo& snap, const std::string& vfs) {
  return DeriveSnapshotEvidence(snap, vfs).status();
}

Result<SnapshotInfo> SnapshotStore::Take(const std::string& journal_path, const SnapshotOptions& options) {
  Clock& clock = ClockOf(options);
  auto ctx = "snapshot of " + journal_path;
  if (options.keep < 1) return InvalidArgument("retention must keep at least 1 snapshot");
  if (!fs::exists(journal_path)) return NotFound(ctx + ": journal does not exist");
  {  // Only our journals here; foreign ones go through TakeForeign.
    OpenOptions o;
    o.read_only = true;
    o.vfs = options.vfs;
    o.lock_timeout_ms = options.lock_timeout_ms;
    auto j = Journal::Open(journal_path, o);
    if (!j.ok()) return j.status().WithContext(ctx);
  }
  FW_RETURN_IF_ERROR_CTX(MakeDirs(dir_), ctx);
  FW_RETURN_IF_ERROR_CTX(RemoveIncomplete(), ctx);
  SnapshotDescriptor d;
  d.created_ms = ClockOf(options).WallMs();
  d.firmware_version = options.firmware_version;
  d.source = fs::absolute(journal_path).string();
  // 1. The copy, not synced: a fresh private file, published only after step 2.
  Stopwatch t(clock);
  FW_ASSIGN_OR_RETURN(auto copy,
                      PartialCopy::Make(dir_, journal_path, d.created_ms, options, /*durable=*/false).WithContext(ctx));
  const std::string& name = copy->name();
  const std::string& partial = copy->path();
  SnapshotTimings timings;
  timings.copy = t.Seconds();
  // 2. Its sync alongside its verification, which reads the same final bytes from the
  //    page cache: integrity_check, the chain (in ranges), the file's SHA-256.
  t = Stopwatch(clock);
  auto synced = std::async(std::launch::async, [&] {
    Stopwatch ts(clock);
    Status st = SyncFile(partial, options.vfs);
    timings.sync = ts.Seconds();
    return st;
  });
  // The private copy just written, in the page cache, that nobody else writes: read
  // through a memory map. A stored snapshot (VerifySnapshot) may sit on removable
  // media, where a read error must stay an error, not a SIGBUS.
  CopyVerification v = VerifyReferenceCopy(partial, options.vfs, /*map=*/true, &timings, clock);
  Status sync_status = synced.get();
  timings.verify = t.Seconds();
  if (!v.status.ok()) return v.status.WithContext(ctx + ": the copy failed verification");
  if (!v.sha_status.ok()) return v.sha_status.WithContext(ctx);
  if (!sync_status.ok()) return sync_status.WithContext(ctx + ": cannot make the copy durable");
  d.record_count = v.summary.record_count;
  d.first_seq = v.summary.first_seq;
  d.last_seq = v.summary.last_seq;
  d.chain_head = v.summary.head;
  d.schema_version = v.summary.schema_version;
  // 3. Only a verified and durable copy is published (rename, directory fsync, descriptor).
  t = Stopwatch(clock);
  FW_ASSIGN_OR_RETURN(SnapshotInfo info,
                      Publish(dir_, name, partial, d, options, v.sha256, /*synced=*/true).WithContext(ctx));
  timings.publish = t.Seconds();
  t = Stopwatch(clock);
  FW_RETURN_IF_ERROR_CTX(ApplyRetention(options.keep), ctx);
  timings.retention = t.Seconds();
  info.timings = timings;
  return info;
}

Result<SnapshotInfo> SnapshotStore::TakeForeign(const std::string& db_path, const ForeignSpec& spec,
                                                const SnapshotOptions& options) {
  auto ctx = "snapshot of foreign journal " + db_path;
  if (options.keep < 1) return InvalidArgument("retention must keep at least 1 snapshot");
  if (!fs::exists(db_path)) return NotFound(ctx + ": file does not exist");
  FW_RETURN_IF_ERROR_CTX(ValidateForeignSpec(db_path, spec, options.vfs), ctx);
  FW_RETURN_IF_ERROR_CTX(MakeDirs(dir_), ctx);
  FW_RETURN_IF_ERROR_CTX(RemoveIncomplete(), ctx);
  SnapshotDescriptor d;
  d.kind = "foreign";
  d.foreign = spec;
  d.created_ms = ClockOf(options).WallMs();
  d.firmware_version = options.firmware_version;
  d.source = fs::absolute(db_path).string();
  FW_ASSIGN_OR_RETURN(auto copy,
                      PartialCopy::Make(dir_, db_path, d.created_ms, options, /*durable=*/true).WithContext(ctx));
  const std::string& name = copy->name();
  const std::string& partial = copy->path();
  FW_ASSIGN_OR_RETURN(auto ic, IntegrityCheck(partial, options.vfs).WithContext(ctx));
  if (!ic.empty()) return Corrupt(ctx + ": integrity_check of the copy failed: " + ic);
  FW_ASSIGN_OR_RETURN(auto rows, ReadForeignRows(partial, spec, std::nullopt, options.vfs).WithContext(ctx));
  d.record_count = static_cast<int64_t>(rows.size());
  d.first_seq = rows.empty() ? 0 : rows.front().key;
  d.last_seq = rows.empty() ? 0 : rows.back().key;
  d.chain_head = ForeignAggregate(rows);
  FW_ASSIGN_OR_RETURN(SnapshotInfo info,
                      Publish(dir_, name, partial, d, options, Sha256File(partial), /*synced=*/false).WithContext(ctx));
  FW_RETURN_IF_ERROR_CTX(ApplyRetention(options.keep), ctx);
  return info;
}

Result<std::vector<SnapshotInfo>> SnapshotStore::List() const {
  std::vector<SnapshotInfo> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".json") continue;
    auto info = LoadSnapshot(e.path().string());
    if (info.ok()) out.push_back(std::move(*info));
  }
  if (ec) return IoError("cannot list snapshot store " + dir_ + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return std::tie(a.descriptor.created_ms, a.name) < std::tie(b.descriptor.created_ms, b.name);
  });
  return out;
}

Result<SnapshotInfo> SnapshotStore::Latest() const {
  FW_ASSIGN_OR_RETURN(auto all, List());
  if (all.empty()) return NotFound("snapshot store " + dir_ + " holds no complete snapshot");
  return all.back();
}

Result<SnapshotInfo> SnapshotStore::Find(const std::string& name_or_path) const {
  if (name_or_path.find('/') != std::string::npos) return LoadSnapshot(name_or_path);
  return LoadSnapshot(dir_ + "/" + Stem(name_or_path) + ".json");
}

Status SnapshotStore::ApplyRetention(int keep) {
  FW_ASSIGN_OR_RETURN(auto all, List());
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) {
    if (::unlink(all[i].descriptor_path.c_str()) != 0) {
      return IoError("cannot delete " + all[i].descriptor_path + ": " + ErrnoText(errno));
    }
    ::unlink(all[i].db_path.c_str());
  }
  return SyncParentDir(dir_ + "/x");
}

Status SnapshotStore::RemoveIncomplete() {
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return Status::Ok();
  std::vector<fs::path> doomed;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const auto& p = e.path();
    std::string n = p.filename().string();
    bool partial = n.find(".partial") != std::string::npos || n.find(".tmp.") != std::string::npos;
    bool orphan = p.extension() == ".db" && !fs::exists(p.parent_path() / (p.stem().string() + ".json"));
    if (n.rfind("snap-", 0) == 0 && (partial || orphan)) doomed.push_back(p);
  }
  for (const auto& p : doomed) fs::remove(p, ec);
  return Status::Ok();
}

}  // namespace fw::journal
