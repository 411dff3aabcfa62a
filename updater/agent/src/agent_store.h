// The agent's durable state, STATE_DIR/agent.db (internal to fw_agent; docs/agent.md "Durable state").
// SQLite through the project's facade (fw/sqlite.h: WAL, synchronous=FULL), schema through
// fw/sqlite_migrations.h. Holds:
//   - actions: every action the agent has worked on — its attempt, the next event seq, the step the
//     agent reached, the firmware version the pre-flight resolved, transient failure count, closed flag;
//   - outbox: events written before they are sent, deleted only when the server answered them;
//   - kv: clock floor, last acknowledged journal head, journal epoch, last check-in ETag and reply.
// Emit() appends an event and moves the action's step and seq in one transaction, so a power cut
// leaves either both or neither.
// Ownership: one AgentStore per agent; not thread-safe (one thread drives the agent).
// Failure model: SQLite errors map by fw/sqlite.h's table; every error names agent.db.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fw/agent/protocol.h"
#include "fw/sqlite.h"
#include "fw/status.h"

namespace fw::agent {

// The agent's own steps for an action (a subset of the server's states, plus "new" and "closed").
namespace step {
inline constexpr const char* kNew = "new";
inline constexpr const char* kAccepted = "accepted";
inline constexpr const char* kDownloaded = "downloaded";
inline constexpr const char* kWaitingWindow = "waiting_window";
inline constexpr const char* kBackupDone = "backup_done";
inline constexpr const char* kInstalling = "installing";
inline constexpr const char* kTrialSet = "trial_set";
inline constexpr const char* kRebooting = "rebooting";
inline constexpr const char* kClosed = "closed";
}  // namespace step

struct ActionRecord {
  int64_t id = 0;
  std::string kind;  // install | rollback | journal_backup
  std::string target_name;
  std::string type;  // forced | soft | time-forced | download-only
  std::optional<std::string> window;
  bool backup_required = true;
  int64_t attempt = 1;
  int64_t next_seq = 1;
  std::string step = step::kNew;
  std::string target_version;  // resolved through TUF by the pre-flight (empty before)
  int64_t transient_failures = 0;
  std::string last_error;
  bool closed() const { return step == step::kClosed; }
};

struct OutboxRow {
  int64_t row = 0;
  Event event;
};

class AgentStore {
 public:
  static Result<AgentStore> Open(const std::string& path);

  Result<std::optional<ActionRecord>> GetAction(int64_t id);
  Result<std::vector<ActionRecord>> ActionsInProgress();  // not closed, oldest first
  Status PutAction(const ActionRecord& a);

  // Appends `e` (its action, attempt and seq are taken from `a`) to the outbox and moves `a` to
  // `new_step`, seq + 1, in one transaction. `a` is updated in memory only if that committed.
  Result<Event> Emit(ActionRecord& a, Event e, const std::string& new_step);
  Result<std::vector<OutboxRow>> Outbox();
  Status DeleteOutbox(int64_t row);
  Result<int64_t> OutboxCount(std::optional<int64_t> action = std::nullopt);

  Result<std::optional<std::string>> Get(const std::string& key);
  Status Set(const std::string& key, const std::string& value);
  Result<int64_t> GetInt(const std::string& key, int64_t fallback);
  Status SetInt(const std::string& key, int64_t value) { return Set(key, std::to_string(value)); }

 private:
  explicit AgentStore(sql::Database db) : db_(std::move(db)) {}
  Status WriteAction(const ActionRecord& a);
  sql::Database db_;
};

}  // namespace fw::agent
