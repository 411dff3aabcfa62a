// TLS session-ticket keys shared by every fwserver instance through the store (issue 19; server-stub/net,
// lib fw_server_run; docs/fleet-server.md, "Several instances"), so a terminal whose next connection
// lands on another instance behind the load balancer still resumes its session.
//
// Contract:
//  - The keys live in settings rows "tls_ticket_key:<period>" = lower-case hex of 80 random bytes
//    (16 name, 32 HMAC-SHA256, 32 AES-256; fw/server/https_server.h TicketKey), period =
//    floor(clock.WallSeconds() / rotation_seconds). The first instance to need a period's key writes
//    it with Store::PutSettingIfAbsent and every instance uses the stored value (first writer wins).
//    The set handed out: current = this period's key, previous = the last period's (when the
//    database has it), so a ticket is accepted for one to two rotations. The instance whose write
//    won deletes the rows of periods before the previous one.
//  - Cheap per call: the set is cached per period; the store is asked once per period (one thread
//    asks; the others go on with the cached set meanwhile, which still holds a valid current key).
//  - The database unreachable (or a stored row unreadable): the source keeps serving — the cached
//    previous key stays accepted and a key made in this process is the current one (its tickets
//    resume on this instance only); logged to stderr once per outage; asked again every retry_ms of
//    clock.MonotonicMs(). When the database answers again the shared key becomes current and the
//    local key stays accepted for its period.
//  - Instances' clocks should agree (NTP): during a skew of s seconds around each rotation, tickets
//    from the instance already in the next period get full handshakes elsewhere.
// Ownership: the source owns its own store connection, opened lazily by `open` (again after a
//  failure); `clock` must outlive the source (and every copy of it).
// Thread safety: the returned source may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fw/clock.h"
#include "fw/server/https_server.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

// Opens a store connection (e.g. [db] { return OpenStore(db); }).
using StoreOpener = std::function<Result<std::unique_ptr<Store>>()>;

inline constexpr char kTicketKeySettingPrefix[] = "tls_ticket_key:";

struct SharedTicketKeysOptions {
  int64_t rotation_seconds = 3600;  // > 0
  int64_t retry_ms = 10000;         // while the database fails: the next attempt after this long
};

TicketKeySource DatabaseTicketKeys(StoreOpener open, Clock& clock, SharedTicketKeysOptions options);

// The 80-byte key as stored (lower-case hex) and back; kCorrupt for anything else.
std::string TicketKeyHex(const TicketKey& key);
Result<TicketKey> ParseTicketKeyHex(const std::string& hex);

}  // namespace fw::server
