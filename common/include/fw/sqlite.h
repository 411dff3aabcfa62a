// A thin SQLite facade: owned connections and statements, errors as Status,
// and a transaction guard that rolls back unless Commit() succeeded.
//
// No SQLite type appears here. Connections are opened in WAL mode with
// synchronous=FULL (durable commits) unless opened read-only.
//
// Thread safety: a Database and its Statements belong to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

namespace fw::sql {

class Statement;

enum class OpenMode { kReadOnly, kReadWrite, kCreate };

class Database {
 public:
  ~Database();
  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens `path`; waits up to `busy_timeout_ms` for locks held by other connections.
  static Result<Database> Open(const std::string& path, OpenMode mode, int busy_timeout_ms = 5000);

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertRowId() const;
  // Keeps the -wal and -shm files when this connection closes last (SQLITE_FCNTL_PERSIST_WAL),
  // so that read-only connections never create them and can read from a read-only directory.
  Status KeepWalFiles();
  const std::string& path() const { return path_; }

 private:
  Database() = default;
  friend class Statement;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

class Statement {
 public:
  ~Statement();
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQL.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, std::span<const uint8_t> blob);
  Statement& Bind(int index, const std::optional<std::string>& text);
  Statement& BindNull(int index);

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion (for statements without results) and resets.
  Status Run();
  Status Reset();

  // Columns are 0-based.
  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  std::vector<uint8_t> ColumnBlob(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  Statement() = default;
  friend class Database;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// BEGIN IMMEDIATE ... COMMIT; rolled back on destruction unless committed.
class Transaction {
 public:
  ~Transaction();
  Transaction(Transaction&& o) noexcept : db_(o.db_), open_(o.open_) { o.open_ = false; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  static Result<Transaction> Begin(Database& db);
  Status Commit();

 private:
  explicit Transaction(Database& db) : db_(&db), open_(true) {}
  Database* db_;
  bool open_;
};

}  // namespace fw::sql
