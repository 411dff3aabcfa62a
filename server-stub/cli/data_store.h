// The store of an fwserver data directory, for every fwserver command that opens it (issue 19).
//
// Contract:
//  - OpenDataStore(dir) reads DIR/fwserver.json (LoadConfig: strict, webhook secrets included) and
//    opens its "database" with OpenStore(): an SQLite file path (default DIR/server.db) or a
//    PostgreSQL URI (docs/deployment.md). The store is never created here (`fwserver init` does
//    that): a missing fwserver.json or SQLite file is kNotFound (exit 4); an unreachable PostgreSQL
//    is kIoError (exit 4). Errors name the data directory and the database with its password
//    redacted; the password never appears in a returned message (ScrubPassword).
//  - RedactDatabase() returns a database setting fit for output: a PostgreSQL URI with the password of
//    its user-info part ("user:PASSWORD@") and of a "password=" query parameter replaced by "***";
//    anything else unchanged.
//  - ScrubPassword(status, database) replaces every occurrence of that URI's password (as written and
//    percent-decoded) in the status message by "***" (for errors that come from libpq).
// Ownership: the caller owns the returned store. Thread safety: CLI code, single-threaded.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "fw/cli.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

Result<std::unique_ptr<Store>> OpenDataStore(const std::string& data_dir);
// OpenDataStore(--data).
Result<std::unique_ptr<Store>> OpenDataStore(const cli::Invocation& inv);
std::string RedactDatabase(std::string_view database);
Status ScrubPassword(const Status& status, std::string_view database);

}  // namespace fw::server
