#include "fw/journal/foreign.h"

#include <algorithm>
#include <cstring>

#include "fw/sqlite.h"

namespace fw::journal {

namespace {

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutBytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  if (n == 0) return;
  size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}

constexpr std::string_view kRowDomain = "ptfw-foreign-row-v1";

// A column's type tag and value in the row's canonical bytes.
void PutValue(std::vector<uint8_t>& buf, const sql::Statement& s, int i) {
  switch (s.ColumnType(i)) {
    case sql::Statement::Type::kNull:
      buf.push_back(0);
      break;
    case sql::Statement::Type::kInteger:
      buf.push_back(1);
      PutU64(buf, static_cast<uint64_t>(s.ColumnInt(i)));
      break;
    case sql::Statement::Type::kFloat: {
      buf.push_back(2);
      double d = s.ColumnDouble(i);
      uint64_t bits = 0;
      std::memcpy(&bits, &d, sizeof bits);
      PutU64(buf, bits);
      break;
    }
    case sql::Statement::Type::kText: {
      buf.push_back(3);
      auto t = s.ColumnTextView(i);
      PutU32(buf, static_cast<uint32_t>(t.size()));
      PutBytes(buf, t.data(), t.size());
      break;
    }
    case sql::Statement::Type::kBlob: {
      buf.push_back(4);
      auto b = s.ColumnBlobView(i);
      PutU32(buf, static_cast<uint32_t>(b.size()));
      PutBytes(buf, b.data(), b.size());
      break;
    }
  }
}

}  // namespace

Status ValidateForeignSpec(const std::string& db_path, const ForeignSpec& spec, const std::string& vfs) {
  if (spec.table.empty() || spec.order_column.empty() || spec.columns.empty()) {
    return InvalidArgument("a foreign journal needs --table, --order-column and at least one --column");
  }
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(db_path, sql::OpenOptions().ReadOnly().Vfs(vfs)));
  FW_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT name FROM pragma_table_info(?1)"));
  s.Bind(1, spec.table);
  std::vector<std::string> cols;
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool row, s.Step().WithContext("cannot read the columns of " + spec.table));
    if (!row) break;
    cols.push_back(s.ColumnText(0));
  }
  if (cols.empty()) return NotFound("table '" + spec.table + "' does not exist in " + db_path);
  auto has = [&](const std::string& c) { return c == "rowid" || std::find(cols.begin(), cols.end(), c) != cols.end(); };
  if (!has(spec.order_column)) {
    return NotFound("ordering column '" + spec.order_column + "' does not exist in table '" + spec.table + "'");
  }
  for (const auto& c : spec.columns) {
    if (!has(c)) return NotFound("column '" + c + "' does not exist in table '" + spec.table + "'");
  }
  return Status::Ok();
}

Result<std::vector<ForeignRow>> ReadForeignRows(const std::string& db_path, const ForeignSpec& spec,
                                                std::optional<int64_t> up_to_key, const std::string& vfs,
                                                int lock_timeout_ms) {
  FW_RETURN_IF_ERROR(ValidateForeignSpec(db_path, spec, vfs));
  FW_ASSIGN_OR_RETURN(
      auto db, sql::Database::Open(db_path, sql::OpenOptions().ReadOnly().Vfs(vfs).BusyTimeoutMs(lock_timeout_ms)));
  std::string q = "SELECT " + sql::QuoteIdent(spec.order_column);
  for (const auto& c : spec.columns) q += ", " + sql::QuoteIdent(c);
  q += " FROM " + sql::QuoteIdent(spec.table);
  if (up_to_key) q += " WHERE " + sql::QuoteIdent(spec.order_column) + " <= ?1";
  q += " ORDER BY " + sql::QuoteIdent(spec.order_column);
  FW_ASSIGN_OR_RETURN(auto s, db.Prepare(q));
  if (up_to_key) s.Bind(1, *up_to_key);
  std::vector<ForeignRow> rows;
  std::vector<uint8_t> buf;
  Sha256 sha;
  const int ncols = static_cast<int>(spec.columns.size());
  for (;;) {
    FW_ASSIGN_OR_RETURN(bool more, s.Step().WithContext("cannot read table " + spec.table + " of " + db_path));
    if (!more) break;
    if (s.ColumnType(0) != sql::Statement::Type::kInteger) {
      return Corrupt("ordering column '" + spec.order_column + "' holds a non-integer value in row " +
                     std::to_string(rows.size() + 1) + "; choose an INTEGER column such as rowid");
    }
    ForeignRow row;
    row.key = s.ColumnInt(0);
    if (!rows.empty() && rows.back().key == row.key) {
      return Corrupt("ordering column '" + spec.order_column + "' is not unique (value " + std::to_string(row.key) +
                     ")");
    }
    buf.clear();
    PutBytes(buf, kRowDomain.data(), kRowDomain.size());
    PutU64(buf, static_cast<uint64_t>(row.key));
    PutU32(buf, static_cast<uint32_t>(ncols));
    for (int i = 1; i <= ncols; ++i) PutValue(buf, s, i);
    sha.Update(buf);
    row.digest = sha.Finish();
    rows.push_back(row);
  }
  return rows;
}

Digest ForeignAggregate(const std::vector<ForeignRow>& rows) {
  Sha256 sha;
  for (const auto& r : rows) sha.Update(r.digest);
  return sha.Finish();
}

}  // namespace fw::journal
