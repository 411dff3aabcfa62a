// The audit heads file (fw/server/audit.h, docs/fleet-audit.md "The heads file"): one JSON line per
// exported head, appended with O_APPEND + fsync, and checked against the database.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/file_io.h"
#include "fw/server/audit.h"

namespace fw::server {
namespace {

constexpr uint64_t kMaxHeadsFileBytes = 256ull << 20;  // ~2.5 million lines: decades at one a minute
constexpr size_t kMaxHeadsLineBytes = 512;

Status ErrnoError(int err, const std::string& what) {
  std::string message = what + ": " + ErrnoText(err);
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(message + " (disk full)");
  if (err == ENOENT) return NotFound(message);
  return IoError(message);
}

bool IsLowerHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// One line of the heads file, strictly: an object with exactly seq (>= 1), hash (64 lower-case
// hex), time and exported (>= 0 integers).
Result<AuditHeadLine> ParseAuditHeadLine(std::string_view text, const std::string& where) {
  if (text.size() > kMaxHeadsLineBytes) return Corrupt(where + ": line longer than 512 bytes");
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corrupt(where + ": not a JSON object");
  if (j.size() != 4) return Corrupt(where + ": expected exactly the members seq, hash, time, exported");
  AuditHeadLine h;
  for (const char* key : {"seq", "time", "exported"}) {
    if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() < 0) {
      return Corrupt(where + ": '" + key + "' missing or not a non-negative integer");
    }
  }
  if (!j.contains("hash") || !j["hash"].is_string() || !IsLowerHex64(j["hash"].get<std::string>())) {
    return Corrupt(where + ": 'hash' missing or not 64 lower-case hex digits");
  }
  h.seq = j["seq"].get<int64_t>();
  h.hash_hex = j["hash"].get<std::string>();
  h.time_s = j["time"].get<int64_t>();
  h.exported_s = j["exported"].get<int64_t>();
  if (h.seq < 1) return Corrupt(where + ": 'seq' must be at least 1");
  return h;
}

// The last line of an existing heads file (nullopt when the file is empty).
Result<std::optional<AuditHeadLine>> LastHead(const std::string& path) {
  FW_ASSIGN_OR_RETURN(auto file, File::OpenRead(path));
  FW_ASSIGN_OR_RETURN(uint64_t size, file.Size());
  if (size == 0) return std::optional<AuditHeadLine>();
  const uint64_t take = std::min<uint64_t>(size, kMaxHeadsLineBytes + 1);
  std::string tail(take, '\0');
  FW_RETURN_IF_ERROR(file.ReadAt(size - take, {reinterpret_cast<uint8_t*>(tail.data()), tail.size()}));
  const std::string where = "heads file " + path + ", last line";
  if (tail.back() != '\n') return Corrupt(where + ": no newline at the end (a torn line)");
  tail.pop_back();
  const size_t nl = tail.rfind('\n');
  if (nl == std::string::npos && take < size) return Corrupt(where + ": line longer than 512 bytes");
  FW_ASSIGN_OR_RETURN(auto h, ParseAuditHeadLine(nl == std::string::npos ? tail : tail.substr(nl + 1), where));
  return std::optional<AuditHeadLine>(std::move(h));
}

// Appends `line` with one write (O_APPEND), fsyncs it, and fsyncs the directory when the file (or
// its directory) was created by this call.
Status AppendDurably(const std::string& path, const std::string& line) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::exists(parent, ec)) {
    if (!fs::create_directories(parent, ec)) return ErrnoError(ec.value(), "cannot create " + parent.string());
    FW_RETURN_IF_ERROR(SyncParentDir(parent.string()));
  }
  bool created = true;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) return ErrnoError(errno, "cannot open heads file " + path);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoError(err, "cannot append to heads file " + path);
    }
    done += static_cast<size_t>(n);
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError(err, "cannot fsync heads file " + path);
  return created ? SyncParentDir(path) : Status::Ok();
}

}  // namespace

Result<std::vector<AuditHeadLine>> ParseAuditHeads(std::string_view text, const std::string& name) {
  std::vector<AuditHeadLine> out;
  size_t pos = 0, line = 0;
  while (pos < text.size()) {
    ++line;
    const std::string where = name + " line " + std::to_string(line);
    const size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return Corrupt(where + ": no newline at the end (a torn line)");
    FW_ASSIGN_OR_RETURN(auto h, ParseAuditHeadLine(text.substr(pos, end - pos), where));
    out.push_back(std::move(h));
    pos = end + 1;
  }
  return out;
}

std::string AuditHeadLineText(const AuditHeadLine& h) {
  const nlohmann::ordered_json line = {
      {"seq", h.seq}, {"hash", h.hash_hex}, {"time", h.time_s}, {"exported", h.exported_s}};
  return line.dump() + "\n";
}

Result<AuditVerification> VerifyAgainstHeads(Store& store, const std::string& heads_file) {
  FW_ASSIGN_OR_RETURN(auto v, VerifyAuditChain(store));
  if (!v.ok) return v;
  FW_ASSIGN_OR_RETURN(auto text, ReadFileToString(heads_file, kMaxHeadsFileBytes));
  FW_ASSIGN_OR_RETURN(auto heads, ParseAuditHeads(text, "heads file " + heads_file));
  for (size_t i = 0; i < heads.size(); ++i) {
    const AuditHeadLine& h = heads[i];
    const std::string where = "heads file " + heads_file + " line " + std::to_string(i + 1);
    const std::string n = std::to_string(h.seq);
    if (h.seq > v.head.seq) {
      v.ok = false;
      v.bad_seq = h.seq;
      v.problem = "head: " + where + " exported row " + n + " but the log ends at row " + std::to_string(v.head.seq) +
                  " (rows were removed)";
      return v;
    }
    FW_ASSIGN_OR_RETURN(auto rows, store.ListAudit(h.seq - 1, 1));
    if (rows.empty() || rows[0].seq != h.seq || rows[0].hash_hex != h.hash_hex) {
      v.ok = false;
      v.bad_seq = h.seq;
      v.problem = "head: " + where + " exported row " + n + " with hash " + h.hash_hex + ", the log holds " +
                  (rows.empty() ? std::string("no such row") : rows[0].hash_hex) + " (the log was rewritten)";
      return v;
    }
    ++v.heads_checked;
  }
  return v;
}

Result<bool> ExportAuditHead(Store& store, const std::string& heads_file, int64_t now_s) {
  FW_ASSIGN_OR_RETURN(auto head, store.AuditHead());
  if (!head) return false;  // nothing to anchor yet
  std::error_code ec;
  if (std::filesystem::exists(heads_file, ec)) {
    FW_ASSIGN_OR_RETURN(auto last, LastHead(heads_file));
    if (last && last->seq == head->seq && last->hash_hex == head->hash_hex) return false;
    if (last && last->seq >= head->seq) {
      return FailedPrecondition("the audit log's head (row " + std::to_string(head->seq) +
                                ") does not follow the last line of " + heads_file + " (row " +
                                std::to_string(last->seq) +
                                "): the database was rewritten or restored; run 'fwserver audit verify'");
    }
  }
  FW_RETURN_IF_ERROR(AppendDurably(heads_file, AuditHeadLineText({head->seq, head->hash_hex, head->time_s, now_s})));
  return true;
}

}  // namespace fw::server
