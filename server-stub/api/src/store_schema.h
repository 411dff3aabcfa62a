// The fleet server store's schema: numbered migrations (fw/sqlite_migrations.h), in SQL that
// SQLite and PostgreSQL both accept — TEXT and BIGINT columns only (booleans are 0/1),
// no AUTOINCREMENT (ids are MAX(id)+1 in the write transaction), no BLOB (segments are
// JSONL text), no reserved words as names (`window` is window_local).
// Internal to fw_server_api. Thread safety: constants.
#pragma once

#include "fw/sqlite_migrations.h"

namespace fw::server {

inline constexpr const char* kSchemaV1Up = R"sql(
CREATE TABLE devices (
  serial TEXT PRIMARY KEY,
  spki_sha256 TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'quarantined', 'revoked')),
  state_reason TEXT NOT NULL,
  created_s BIGINT NOT NULL,
  last_seen_s BIGINT NOT NULL,
  manifest TEXT NOT NULL,
  witness TEXT NOT NULL
);
CREATE TABLE enrol_tokens (
  token_sha256 TEXT PRIMARY KEY,
  serial TEXT NOT NULL,
  created_s BIGINT NOT NULL,
  expires_s BIGINT NOT NULL,
  used_s BIGINT
);
CREATE TABLE certificates (
  cert_serial TEXT PRIMARY KEY,
  device_serial TEXT NOT NULL REFERENCES devices (serial),
  spki_sha256 TEXT NOT NULL,
  issued_s BIGINT NOT NULL,
  not_after_s BIGINT NOT NULL
);
CREATE INDEX certificates_device ON certificates (device_serial);
CREATE TABLE cert_deny_list (
  cert_serial TEXT PRIMARY KEY,
  device_serial TEXT NOT NULL,
  reason TEXT NOT NULL,
  denied_s BIGINT NOT NULL
);
CREATE TABLE actions (
  id BIGINT PRIMARY KEY,
  device_serial TEXT NOT NULL REFERENCES devices (serial),
  kind TEXT NOT NULL,
  target_name TEXT NOT NULL,
  target_version TEXT NOT NULL,
  type TEXT NOT NULL,
  window_local TEXT NOT NULL,
  deadline_s BIGINT NOT NULL,
  backup_required BIGINT NOT NULL,
  state TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  backup_done BIGINT NOT NULL,
  cancel_requested BIGINT NOT NULL,
  done BIGINT NOT NULL,
  failure_class TEXT NOT NULL,
  exit_code BIGINT NOT NULL,
  detail TEXT NOT NULL,
  created_s BIGINT NOT NULL,
  updated_s BIGINT NOT NULL
);
CREATE INDEX actions_device_open ON actions (device_serial, done);
CREATE TABLE action_events (
  action_id BIGINT NOT NULL REFERENCES actions (id),
  attempt BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  state TEXT NOT NULL,
  body TEXT NOT NULL,
  received_s BIGINT NOT NULL,
  PRIMARY KEY (action_id, attempt, seq)
);
CREATE TABLE journal_segments (
  device_serial TEXT NOT NULL REFERENCES devices (serial),
  first_seq BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  records BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  received_s BIGINT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (device_serial, first_seq, last_seq)
);
)sql";

inline constexpr const char* kSchemaV1Down = R"sql(
DROP TABLE journal_segments;
DROP TABLE action_events;
DROP TABLE actions;
DROP TABLE cert_deny_list;
DROP TABLE certificates;
DROP TABLE enrol_tokens;
DROP TABLE devices;
)sql";

// Migration 2 (issue 16, the operator side): filter columns on devices, labels, operator tokens,
// the hash-chained audit log, alerts with their deliveries and attempts, and settings.
inline constexpr const char* kSchemaV2Up = R"sql(
ALTER TABLE devices ADD COLUMN hardware_id TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN version TEXT NOT NULL DEFAULT '';
CREATE INDEX devices_hardware ON devices (hardware_id, serial);
CREATE INDEX devices_version ON devices (version, serial);
CREATE INDEX devices_state ON devices (state, serial);
CREATE TABLE labels (
  device_serial TEXT NOT NULL REFERENCES devices (serial),
  label TEXT NOT NULL,
  PRIMARY KEY (device_serial, label)
);
CREATE INDEX labels_label ON labels (label, device_serial);
CREATE TABLE operator_tokens (
  id BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  token_sha256 TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
  journal_read BIGINT NOT NULL,
  created_s BIGINT NOT NULL,
  expires_s BIGINT NOT NULL,
  revoked_s BIGINT,
  created_by TEXT NOT NULL
);
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY,
  time_s BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  before_json TEXT NOT NULL,
  after_json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE alerts (
  id BIGINT PRIMARY KEY,
  kind TEXT NOT NULL,
  object TEXT NOT NULL,
  body TEXT NOT NULL,
  created_s BIGINT NOT NULL
);
CREATE TABLE alert_deliveries (
  alert_id BIGINT NOT NULL REFERENCES alerts (id),
  webhook TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts BIGINT NOT NULL,
  next_attempt_s BIGINT NOT NULL,
  last_status BIGINT NOT NULL,
  last_error TEXT NOT NULL,
  updated_s BIGINT NOT NULL,
  PRIMARY KEY (alert_id, webhook)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_s);
CREATE TABLE delivery_attempts (
  alert_id BIGINT NOT NULL,
  webhook TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  time_s BIGINT NOT NULL,
  http_status BIGINT NOT NULL,
  error TEXT NOT NULL,
  PRIMARY KEY (alert_id, webhook, attempt),
  FOREIGN KEY (alert_id, webhook) REFERENCES alert_deliveries (alert_id, webhook)
);
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE INDEX actions_state ON actions (state, id);
CREATE INDEX journal_segments_received ON journal_segments (received_s);
CREATE INDEX certificates_not_after ON certificates (not_after_s);
)sql";

inline constexpr const char* kSchemaV2Down = R"sql(
DROP INDEX certificates_not_after;
DROP INDEX journal_segments_received;
DROP INDEX actions_state;
DROP TABLE settings;
DROP TABLE delivery_attempts;
DROP TABLE alert_deliveries;
DROP TABLE alerts;
DROP TABLE audit_log;
DROP TABLE operator_tokens;
DROP TABLE labels;
DROP INDEX devices_state;
DROP INDEX devices_version;
DROP INDEX devices_hardware;
ALTER TABLE devices DROP COLUMN version;
ALTER TABLE devices DROP COLUMN hardware_id;
)sql";

// Migration 3 (issue 18, rollouts): the rollout that assigned an action, rollouts, their groups,
// their frozen membership and per-group counters (docs/fleet-rollouts.md "Store"). Rows only: every
// decision is fw_server_rollout's. `index` is reserved in SQL: the group's position is group_index.
inline constexpr const char* kSchemaV3Up = R"sql(
ALTER TABLE actions ADD COLUMN rollout_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX actions_rollout_open ON actions (rollout_id, done, id);
CREATE TABLE rollouts (
  id BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  target_name TEXT NOT NULL,
  target_version TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('created', 'running', 'paused', 'stopped', 'finished')),
  pause_kind TEXT NOT NULL CHECK (pause_kind IN ('', 'rule', 'operator', 'approval', 'fleet')),
  pause_reason TEXT NOT NULL,
  current_group BIGINT NOT NULL,
  revert_of BIGINT NOT NULL,
  revert_rollout BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  started_by TEXT NOT NULL,
  approved_by TEXT NOT NULL,
  created_s BIGINT NOT NULL,
  started_s BIGINT NOT NULL,
  paused_s BIGINT NOT NULL,
  updated_s BIGINT NOT NULL,
  group_started_s BIGINT NOT NULL,
  ramp_window_start_s BIGINT NOT NULL,
  ramp_window_assigned BIGINT NOT NULL
);
CREATE INDEX rollouts_state ON rollouts (state, id);
CREATE TABLE rollout_groups (
  rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
  group_index BIGINT NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'done')),
  members BIGINT NOT NULL,
  started_s BIGINT NOT NULL,
  finished_s BIGINT NOT NULL,
  PRIMARY KEY (rollout_id, group_index)
);
CREATE TABLE rollout_members (
  rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
  serial TEXT NOT NULL REFERENCES devices (serial),
  group_index BIGINT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('waiting', 'assigned', 'retry_wait', 'succeeded', 'failed', 'no_response',
                                       'skipped')),
  action_id BIGINT NOT NULL,
  assignments BIGINT NOT NULL,
  failure_class TEXT NOT NULL,
  detail TEXT NOT NULL,
  from_version TEXT NOT NULL,
  next_assign_s BIGINT NOT NULL,
  updated_s BIGINT NOT NULL,
  PRIMARY KEY (rollout_id, serial)
);
CREATE INDEX rollout_members_group_state ON rollout_members (rollout_id, group_index, state, serial);
CREATE INDEX rollout_members_action ON rollout_members (action_id);
CREATE TABLE rollout_counters (
  rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
  group_index BIGINT NOT NULL,
  name TEXT NOT NULL,
  value BIGINT NOT NULL,
  PRIMARY KEY (rollout_id, group_index, name)
);
)sql";

inline constexpr const char* kSchemaV3Down = R"sql(
DROP TABLE rollout_counters;
DROP INDEX rollout_members_action;
DROP INDEX rollout_members_group_state;
DROP TABLE rollout_members;
DROP TABLE rollout_groups;
DROP INDEX rollouts_state;
DROP TABLE rollouts;
DROP INDEX actions_rollout_open;
ALTER TABLE actions DROP COLUMN rollout_id;
)sql";

// Issue 19: leases (one holder among the processes sharing the database: the scheduler's).
inline constexpr const char* kSchemaV4Up = R"sql(
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_s BIGINT NOT NULL
);
)sql";

inline constexpr const char* kSchemaV4Down = R"sql(
DROP TABLE leases;
)sql";

// Issue 20: the dashboard. Check-ins counted per kCheckinBucketSeconds bucket (added to by every
// instance), and the dashboard's login sessions (by the SHA-256 of the cookie's value only).
inline constexpr const char* kSchemaV5Up = R"sql(
CREATE TABLE checkin_counts (
  bucket_s BIGINT PRIMARY KEY,
  checkins BIGINT NOT NULL
);
CREATE TABLE ui_sessions (
  session_sha256 TEXT PRIMARY KEY,
  token_id BIGINT NOT NULL,
  created_s BIGINT NOT NULL,
  expires_s BIGINT NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_s);
)sql";

inline constexpr const char* kSchemaV5Down = R"sql(
DROP INDEX ui_sessions_expires;
DROP TABLE ui_sessions;
DROP TABLE checkin_counts;
)sql";

inline const sql::Migrator& StoreMigrator() {
  static const sql::Migrator migrator(
      "fleet server",
      {
          {1, "devices, enrolment tokens, certificates, deny list, actions, events, journal segments", kSchemaV1Up,
           kSchemaV1Down},
          {2, "device filter columns, labels, operator tokens, audit log, alerts, settings", kSchemaV2Up,
           kSchemaV2Down},
          {3, "rollouts: actions.rollout_id, rollouts, groups, members, counters", kSchemaV3Up, kSchemaV3Down},
          {4, "leases", kSchemaV4Up, kSchemaV4Down},
          {5, "dashboard: check-in counts, UI sessions", kSchemaV5Up, kSchemaV5Down},
      });
  return migrator;
}

}  // namespace fw::server
