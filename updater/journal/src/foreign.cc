#include "fw/journal/foreign.h"

#include <algorithm>
#include <cstring>

#include "sqlite_util.h"

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

}  // namespace

Status ValidateForeignSpec(const std::string& db_path, const ForeignSpec& spec, const std::string& vfs) {
  if (spec.table.empty() || spec.order_column.empty() || spec.columns.empty()) {
    return InvalidArgument("a foreign journal needs --table, --order-column and at least one --column");
  }
  FW_ASSIGN_OR_RETURN(auto db, sql::Open(db_path, {false, true, vfs, 5000}));
  FW_ASSIGN_OR_RETURN(auto s, sql::Prepare(db.get(), "SELECT name FROM pragma_table_info(?1)"));
  sqlite3_bind_text(s.get(), 1, spec.table.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> cols;
  for (int rc; (rc = sqlite3_step(s.get())) != SQLITE_DONE;) {
    if (rc != SQLITE_ROW) return sql::Error(db.get(), rc, "cannot read the columns of " + spec.table);
    cols.emplace_back(sql::ColumnText(s.get(), 0));
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
  FW_ASSIGN_OR_RETURN(auto db, sql::Open(db_path, {false, true, vfs, lock_timeout_ms}));
  std::string q = "SELECT " + sql::QuoteIdent(spec.order_column);
  for (const auto& c : spec.columns) q += ", " + sql::QuoteIdent(c);
  q += " FROM " + sql::QuoteIdent(spec.table);
  if (up_to_key) q += " WHERE " + sql::QuoteIdent(spec.order_column) + " <= ?1";
  q += " ORDER BY " + sql::QuoteIdent(spec.order_column);
  FW_ASSIGN_OR_RETURN(auto s, sql::Prepare(db.get(), q));
  if (up_to_key) sqlite3_bind_int64(s.get(), 1, *up_to_key);
  std::vector<ForeignRow> rows;
  std::vector<uint8_t> buf;
  Sha256 sha;
  const int ncols = static_cast<int>(spec.columns.size());
  for (int rc; (rc = sqlite3_step(s.get())) != SQLITE_DONE;) {
    if (rc != SQLITE_ROW) return sql::Error(db.get(), rc, "cannot read table " + spec.table + " of " + db_path);
    if (sqlite3_column_type(s.get(), 0) != SQLITE_INTEGER) {
      return Corrupt("ordering column '" + spec.order_column + "' holds a non-integer value in row " +
                     std::to_string(rows.size() + 1) + "; choose an INTEGER column such as rowid");
    }
    ForeignRow row;
    row.key = sqlite3_column_int64(s.get(), 0);
    if (!rows.empty() && rows.back().key == row.key) {
      return Corrupt("ordering column '" + spec.order_column + "' is not unique (value " + std::to_string(row.key) +
                     ")");
    }
    buf.clear();
    PutBytes(buf, kRowDomain.data(), kRowDomain.size());
    PutU64(buf, static_cast<uint64_t>(row.key));
    PutU32(buf, static_cast<uint32_t>(ncols));
    for (int i = 1; i <= ncols; ++i) {
      switch (sqlite3_column_type(s.get(), i)) {
        case SQLITE_NULL:
          buf.push_back(0);
          break;
        case SQLITE_INTEGER:
          buf.push_back(1);
          PutU64(buf, static_cast<uint64_t>(sqlite3_column_int64(s.get(), i)));
          break;
        case SQLITE_FLOAT: {
          buf.push_back(2);
          double d = sqlite3_column_double(s.get(), i);
          uint64_t bits = 0;
          std::memcpy(&bits, &d, sizeof bits);
          PutU64(buf, bits);
          break;
        }
        case SQLITE_TEXT: {
          buf.push_back(3);
          auto t = sql::ColumnText(s.get(), i);
          PutU32(buf, static_cast<uint32_t>(t.size()));
          PutBytes(buf, t.data(), t.size());
          break;
        }
        default: {
          buf.push_back(4);
          const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s.get(), i));
          int n = sqlite3_column_bytes(s.get(), i);
          PutU32(buf, static_cast<uint32_t>(n));
          if (p) PutBytes(buf, p, static_cast<size_t>(n));
          break;
        }
      }
    }
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
