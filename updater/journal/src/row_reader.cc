// Reading journal rows as Records (ForEach, Get): `records` merged with `record_extension`.
#include <algorithm>
#include <limits>

#include "fw/journal/migrations.h"
#include "journal_internal.h"

namespace fw::journal {

namespace {

// A 32-byte blob column; anything else is reported by the caller via false.
bool ColumnDigest(const sql::Statement& s, int col, Digest& out) {
  if (s.ColumnType(col) != sql::Statement::Type::kBlob) return false;
  auto blob = s.ColumnBlobView(col);
  if (blob.size() != out.size()) return false;
  std::copy(blob.begin(), blob.end(), out.begin());
  return true;
}

}  // namespace

Result<ExtensionCursor> ExtensionCursor::Open(sql::Database& db, int64_t lo, int64_t hi) {
  ExtensionCursor c;
  FW_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT seq, name, value FROM record_extension "
                                          "WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq, name"));
  c.st_.emplace(std::move(st));
  c.st_->Bind(1, lo).Bind(2, hi);
  FW_RETURN_IF_ERROR(c.Next());
  return c;
}

Status ExtensionCursor::Next() {
  FW_ASSIGN_OR_RETURN(row_, st_->Step().WithContext("cannot read journal record extensions"));
  if (row_) seq_ = st_->ColumnInt(0);
  return Status::Ok();
}

Result<RowReader> RowReader::Create(sql::Database& db, int schema_version, int64_t from_seq) {
  RowReader r;
  r.promoted_ = PromotedExtensions(schema_version);
  std::string q = std::string("SELECT ") + kCoreColumns;
  for (const auto& name : r.promoted_) q += ", " + sql::QuoteIdent(name);
  q += " FROM records WHERE seq >= ?1 ORDER BY seq";
  FW_ASSIGN_OR_RETURN(auto main, db.Prepare(q));
  r.main_.emplace(std::move(main));
  FW_ASSIGN_OR_RETURN(r.ext_, ExtensionCursor::Open(db, from_seq, std::numeric_limits<int64_t>::max()));
  r.main_->Bind(1, from_seq);
  return r;
}

Result<bool> RowReader::Next(Record& out, std::string& malformed) {
  malformed.clear();
  FW_ASSIGN_OR_RETURN(bool row, main_->Step().WithContext("cannot read journal records"));
  if (!row) return false;
  const sql::Statement& s = *main_;
  out.seq = s.ColumnInt(0);
  out.time_ms = s.ColumnInt(1);
  out.terminal_id.assign(s.ColumnTextView(2));
  auto kind_text = s.ColumnTextView(3);
  auto kind = ParseKind(kind_text);
  if (kind.ok()) {
    out.kind = *kind;
  } else {
    malformed = "unknown kind '" + std::string(kind_text) + "'";
  }
  out.amount_minor = s.ColumnInt(4);
  out.currency.assign(s.ColumnTextView(5));
  out.pan_masked.assign(s.ColumnTextView(6));
  out.auth_code.assign(s.ColumnTextView(7));
  out.result.assign(s.ColumnTextView(8));
  if (!ColumnDigest(s, 9, out.prev_hash)) malformed = "prev_hash is not 32 bytes";
  if (!ColumnDigest(s, 10, out.hash)) malformed = "hash is not 32 bytes";
  // Collect extensions, then reuse the map's nodes when the names are unchanged
  // (the common case), so reading a record allocates nothing.
  pending_.clear();
  for (size_t i = 0; i < promoted_.size(); ++i) {
    int col = kCoreColumnCount + static_cast<int>(i);
    if (!s.ColumnIsNull(col)) pending_.emplace_back(promoted_[i], s.ColumnTextView(col));
  }
  // Side-table rows for this seq (and skip orphans below it).
  while (ext_.at_row() && ext_.seq() <= out.seq) {
    if (ext_.seq() == out.seq) pending_.emplace_back(ext_.name(), ext_.value());
    FW_RETURN_IF_ERROR(ext_.Next());
  }
  bool same = pending_.size() == out.extensions.size();
  if (same) {
    std::sort(pending_.begin(), pending_.end());
    auto it = out.extensions.begin();
    for (const auto& [name, value] : pending_) {
      if (it->first != name) {
        same = false;
        break;
      }
      it->second.assign(value);
      ++it;
    }
  }
  if (!same) {
    out.extensions.clear();
    for (auto& [name, value] : pending_) out.extensions[name] = value;
  }
  return true;
}

}  // namespace fw::journal
