// A Store that forwards to a real one and fails on demand (tests only): every call returns the armed
// error (kIoError "database unreachable: ..." like the PostgreSQL store, or kTimeout like a held lock)
// until Heal(). Lets the device and operator API tests take the database away and bring it back.
// Generated from fw/server/store.h's method list (a new Store method needs one forwarding line here).
// Thread safety: the failure switch is shared (atomic) so a test can flip it for handlers it does not own.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "fw/server/store.h"

namespace fw::server::testing {

struct FaultSwitch {
  std::atomic<int> code{0};  // 0: healthy, else the ErrorCode every call fails with
  std::atomic<int> failures{0};
  void Fail(ErrorCode c) { code.store(static_cast<int>(c)); }
  void Heal() { code.store(0); }
};

class FaultyStore final : public Store {
 public:
  FaultyStore(std::unique_ptr<Store> inner, std::shared_ptr<FaultSwitch> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}

  Status Atomically(const std::function<Status()>& fn) override {
    FW_RETURN_IF_ERROR(Check("Atomically"));
    return inner_->Atomically(fn);
  }
  bool InTransaction() const override { return inner_->InTransaction(); }
  Result<std::optional<Device>> GetDevice(const std::string& serial) override {
    FW_RETURN_IF_ERROR(Check("GetDevice"));
    return inner_->GetDevice(serial);
  }
  Result<std::vector<Device>> ListDevices() override {
    FW_RETURN_IF_ERROR(Check("ListDevices"));
    return inner_->ListDevices();
  }
  Status CreateDevice(const Device& device) override {
    FW_RETURN_IF_ERROR(Check("CreateDevice"));
    return inner_->CreateDevice(device);
  }
  Status SetDeviceKey(const std::string& serial, const std::string& spki_sha256_hex) override {
    FW_RETURN_IF_ERROR(Check("SetDeviceKey"));
    return inner_->SetDeviceKey(serial, spki_sha256_hex);
  }
  Status SetDeviceState(const std::string& serial, DeviceState state, const std::string& reason) override {
    FW_RETURN_IF_ERROR(Check("SetDeviceState"));
    return inner_->SetDeviceState(serial, state, reason);
  }
  Status SetDeviceManifest(const std::string& serial, const std::string& manifest_json, const std::string& hardware_id,
                           const std::string& version) override {
    FW_RETURN_IF_ERROR(Check("SetDeviceManifest"));
    return inner_->SetDeviceManifest(serial, manifest_json, hardware_id, version);
  }
  Result<std::vector<Device>> QueryDevices(const DeviceQuery& query) override {
    FW_RETURN_IF_ERROR(Check("QueryDevices"));
    return inner_->QueryDevices(query);
  }
  Status SetWitnessState(const std::string& serial, const std::string& witness_state) override {
    FW_RETURN_IF_ERROR(Check("SetWitnessState"));
    return inner_->SetWitnessState(serial, witness_state);
  }
  Status TouchLastSeen(const std::vector<std::pair<std::string, int64_t>>& seen) override {
    FW_RETURN_IF_ERROR(Check("TouchLastSeen"));
    return inner_->TouchLastSeen(seen);
  }
  Status AddEnrolToken(const EnrolToken& token) override {
    FW_RETURN_IF_ERROR(Check("AddEnrolToken"));
    return inner_->AddEnrolToken(token);
  }
  Result<std::optional<EnrolToken>> GetEnrolToken(const std::string& token_sha256_hex) override {
    FW_RETURN_IF_ERROR(Check("GetEnrolToken"));
    return inner_->GetEnrolToken(token_sha256_hex);
  }
  Result<bool> ConsumeEnrolToken(const std::string& token_sha256_hex, int64_t now_s) override {
    FW_RETURN_IF_ERROR(Check("ConsumeEnrolToken"));
    return inner_->ConsumeEnrolToken(token_sha256_hex, now_s);
  }
  Result<std::vector<EnrolToken>> ListEnrolTokens() override {
    FW_RETURN_IF_ERROR(Check("ListEnrolTokens"));
    return inner_->ListEnrolTokens();
  }
  Status AddLabel(const std::string& serial, const std::string& label) override {
    FW_RETURN_IF_ERROR(Check("AddLabel"));
    return inner_->AddLabel(serial, label);
  }
  Status RemoveLabel(const std::string& serial, const std::string& label) override {
    FW_RETURN_IF_ERROR(Check("RemoveLabel"));
    return inner_->RemoveLabel(serial, label);
  }
  Result<std::vector<std::string>> ListLabels(const std::string& serial) override {
    FW_RETURN_IF_ERROR(Check("ListLabels"));
    return inner_->ListLabels(serial);
  }
  Result<std::vector<std::pair<std::string, int64_t>>> LabelCounts() override {
    FW_RETURN_IF_ERROR(Check("LabelCounts"));
    return inner_->LabelCounts();
  }
  Result<int64_t> AddOperatorToken(const OperatorToken& token) override {
    FW_RETURN_IF_ERROR(Check("AddOperatorToken"));
    return inner_->AddOperatorToken(token);
  }
  Result<std::optional<OperatorToken>> GetOperatorTokenByHash(const std::string& token_sha256_hex) override {
    FW_RETURN_IF_ERROR(Check("GetOperatorTokenByHash"));
    return inner_->GetOperatorTokenByHash(token_sha256_hex);
  }
  Result<std::optional<OperatorToken>> GetOperatorToken(int64_t id) override {
    FW_RETURN_IF_ERROR(Check("GetOperatorToken"));
    return inner_->GetOperatorToken(id);
  }
  Result<std::vector<OperatorToken>> ListOperatorTokens() override {
    FW_RETURN_IF_ERROR(Check("ListOperatorTokens"));
    return inner_->ListOperatorTokens();
  }
  Result<bool> RevokeOperatorToken(int64_t id, int64_t now_s) override {
    FW_RETURN_IF_ERROR(Check("RevokeOperatorToken"));
    return inner_->RevokeOperatorToken(id, now_s);
  }
  Result<AuditEntry> AppendAudit(const AuditEntry& entry) override {
    FW_RETURN_IF_ERROR(Check("AppendAudit"));
    return inner_->AppendAudit(entry);
  }
  Result<std::vector<AuditEntry>> ListAudit(int64_t after_seq, int64_t limit) override {
    FW_RETURN_IF_ERROR(Check("ListAudit"));
    return inner_->ListAudit(after_seq, limit);
  }
  Result<std::optional<AuditEntry>> AuditHead() override {
    FW_RETURN_IF_ERROR(Check("AuditHead"));
    return inner_->AuditHead();
  }
  Result<int64_t> AddAlert(const Alert& alert, const std::vector<std::string>& webhooks) override {
    FW_RETURN_IF_ERROR(Check("AddAlert"));
    return inner_->AddAlert(alert, webhooks);
  }
  Result<std::vector<Alert>> ListAlerts(int64_t after_id, int64_t limit) override {
    FW_RETURN_IF_ERROR(Check("ListAlerts"));
    return inner_->ListAlerts(after_id, limit);
  }
  Result<std::optional<Alert>> GetAlert(int64_t id) override {
    FW_RETURN_IF_ERROR(Check("GetAlert"));
    return inner_->GetAlert(id);
  }
  Result<std::vector<AlertDelivery>> ListDeliveries(int64_t alert_id) override {
    FW_RETURN_IF_ERROR(Check("ListDeliveries"));
    return inner_->ListDeliveries(alert_id);
  }
  Result<std::vector<AlertDelivery>> DueDeliveries(int64_t now_s, int64_t limit) override {
    FW_RETURN_IF_ERROR(Check("DueDeliveries"));
    return inner_->DueDeliveries(now_s, limit);
  }
  Status UpdateDelivery(const AlertDelivery& delivery) override {
    FW_RETURN_IF_ERROR(Check("UpdateDelivery"));
    return inner_->UpdateDelivery(delivery);
  }
  Status AddDeliveryAttempt(const DeliveryAttempt& attempt) override {
    FW_RETURN_IF_ERROR(Check("AddDeliveryAttempt"));
    return inner_->AddDeliveryAttempt(attempt);
  }
  Result<std::vector<DeliveryAttempt>> ListDeliveryAttempts(int64_t alert_id) override {
    FW_RETURN_IF_ERROR(Check("ListDeliveryAttempts"));
    return inner_->ListDeliveryAttempts(alert_id);
  }
  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    FW_RETURN_IF_ERROR(Check("GetSetting"));
    return inner_->GetSetting(key);
  }
  Status SetSetting(const std::string& key, const std::string& value) override {
    FW_RETURN_IF_ERROR(Check("SetSetting"));
    return inner_->SetSetting(key, value);
  }
  Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override {
    FW_RETURN_IF_ERROR(Check("PutSettingIfAbsent"));
    return inner_->PutSettingIfAbsent(key, value);
  }
  Status DeleteSetting(const std::string& key) override {
    FW_RETURN_IF_ERROR(Check("DeleteSetting"));
    return inner_->DeleteSetting(key);
  }
  Result<std::vector<std::string>> ListSettingKeys(const std::string& prefix) override {
    FW_RETURN_IF_ERROR(Check("ListSettingKeys"));
    return inner_->ListSettingKeys(prefix);
  }
  Status Ping() override {
    FW_RETURN_IF_ERROR(Check("Ping"));
    return inner_->Ping();
  }
  Result<std::vector<DeviceCount>> CountDevices() override {
    FW_RETURN_IF_ERROR(Check("CountDevices"));
    return inner_->CountDevices();
  }
  Result<int64_t> CountDevicesSeenBefore(int64_t before_s) override {
    FW_RETURN_IF_ERROR(Check("CountDevicesSeenBefore"));
    return inner_->CountDevicesSeenBefore(before_s);
  }
  Status AddCheckinCounts(const std::vector<std::pair<int64_t, int64_t>>& bucket_counts) override {
    FW_RETURN_IF_ERROR(Check("AddCheckinCounts"));
    return inner_->AddCheckinCounts(bucket_counts);
  }
  Result<std::vector<std::pair<int64_t, int64_t>>> ListCheckinCounts(int64_t from_s) override {
    FW_RETURN_IF_ERROR(Check("ListCheckinCounts"));
    return inner_->ListCheckinCounts(from_s);
  }
  Result<int64_t> PurgeCheckinCountsBefore(int64_t before_s) override {
    FW_RETURN_IF_ERROR(Check("PurgeCheckinCountsBefore"));
    return inner_->PurgeCheckinCountsBefore(before_s);
  }
  Result<std::vector<Alert>> ListRecentAlerts(const std::vector<std::string>& kinds, int64_t limit) override {
    FW_RETURN_IF_ERROR(Check("ListRecentAlerts"));
    return inner_->ListRecentAlerts(kinds, limit);
  }
  Status AddUiSession(const UiSession& session) override {
    FW_RETURN_IF_ERROR(Check("AddUiSession"));
    return inner_->AddUiSession(session);
  }
  Result<std::optional<UiSession>> GetUiSession(const std::string& session_sha256_hex) override {
    FW_RETURN_IF_ERROR(Check("GetUiSession"));
    return inner_->GetUiSession(session_sha256_hex);
  }
  Status DeleteUiSession(const std::string& session_sha256_hex) override {
    FW_RETURN_IF_ERROR(Check("DeleteUiSession"));
    return inner_->DeleteUiSession(session_sha256_hex);
  }
  Result<int64_t> PurgeUiSessions(int64_t now_s) override {
    FW_RETURN_IF_ERROR(Check("PurgeUiSessions"));
    return inner_->PurgeUiSessions(now_s);
  }
  Result<bool> TryLease(const std::string& name, const std::string& holder, int64_t now_s, int64_t ttl_s) override {
    FW_RETURN_IF_ERROR(Check("TryLease"));
    return inner_->TryLease(name, holder, now_s, ttl_s);
  }
  Status ReleaseLease(const std::string& name, const std::string& holder) override {
    FW_RETURN_IF_ERROR(Check("ReleaseLease"));
    return inner_->ReleaseLease(name, holder);
  }
  Status AddCert(const CertRecord& cert) override {
    FW_RETURN_IF_ERROR(Check("AddCert"));
    return inner_->AddCert(cert);
  }
  Result<std::vector<CertRecord>> ListCerts(const std::string& device_serial) override {
    FW_RETURN_IF_ERROR(Check("ListCerts"));
    return inner_->ListCerts(device_serial);
  }
  Result<std::vector<CertRecord>> ListCertsExpiringBefore(int64_t before_s) override {
    FW_RETURN_IF_ERROR(Check("ListCertsExpiringBefore"));
    return inner_->ListCertsExpiringBefore(before_s);
  }
  Status DenyCert(const std::string& cert_serial_hex, const std::string& device_serial, const std::string& reason,
                  int64_t now_s) override {
    FW_RETURN_IF_ERROR(Check("DenyCert"));
    return inner_->DenyCert(cert_serial_hex, device_serial, reason, now_s);
  }
  Result<bool> IsCertDenied(const std::string& cert_serial_hex) override {
    FW_RETURN_IF_ERROR(Check("IsCertDenied"));
    return inner_->IsCertDenied(cert_serial_hex);
  }
  Result<int64_t> CreateAction(const Action& action) override {
    FW_RETURN_IF_ERROR(Check("CreateAction"));
    return inner_->CreateAction(action);
  }
  Result<int64_t> NextActionId() override {
    FW_RETURN_IF_ERROR(Check("NextActionId"));
    return inner_->NextActionId();
  }
  Result<std::optional<Action>> GetAction(int64_t id) override {
    FW_RETURN_IF_ERROR(Check("GetAction"));
    return inner_->GetAction(id);
  }
  Result<std::vector<Action>> ListActions(const std::string& device_serial, bool open_only) override {
    FW_RETURN_IF_ERROR(Check("ListActions"));
    return inner_->ListActions(device_serial, open_only);
  }
  Result<std::vector<Action>> ListAllActions() override {
    FW_RETURN_IF_ERROR(Check("ListAllActions"));
    return inner_->ListAllActions();
  }
  Result<std::vector<Action>> QueryActions(const ActionQuery& query) override {
    FW_RETURN_IF_ERROR(Check("QueryActions"));
    return inner_->QueryActions(query);
  }
  Status UpdateAction(const Action& action) override {
    FW_RETURN_IF_ERROR(Check("UpdateAction"));
    return inner_->UpdateAction(action);
  }
  Status AddEvent(const ActionEvent& event) override {
    FW_RETURN_IF_ERROR(Check("AddEvent"));
    return inner_->AddEvent(event);
  }
  Result<std::optional<ActionEvent>> GetEvent(int64_t action_id, int64_t attempt, int64_t seq) override {
    FW_RETURN_IF_ERROR(Check("GetEvent"));
    return inner_->GetEvent(action_id, attempt, seq);
  }
  Result<std::vector<ActionEvent>> ListEvents(int64_t action_id) override {
    FW_RETURN_IF_ERROR(Check("ListEvents"));
    return inner_->ListEvents(action_id);
  }
  Result<std::vector<Action>> ListRolloutActions(int64_t rollout_id, bool open_only) override {
    FW_RETURN_IF_ERROR(Check("ListRolloutActions"));
    return inner_->ListRolloutActions(rollout_id, open_only);
  }
  Result<std::vector<Action>> ListOpenRolloutActionsCreatedBefore(int64_t created_before_s, int64_t limit) override {
    FW_RETURN_IF_ERROR(Check("ListOpenRolloutActionsCreatedBefore"));
    return inner_->ListOpenRolloutActionsCreatedBefore(created_before_s, limit);
  }
  Result<int64_t> CreateRollout(const RolloutRow& rollout) override {
    FW_RETURN_IF_ERROR(Check("CreateRollout"));
    return inner_->CreateRollout(rollout);
  }
  Result<std::optional<RolloutRow>> GetRollout(int64_t id) override {
    FW_RETURN_IF_ERROR(Check("GetRollout"));
    return inner_->GetRollout(id);
  }
  Result<std::vector<RolloutRow>> ListRollouts(int64_t after_id, int64_t limit) override {
    FW_RETURN_IF_ERROR(Check("ListRollouts"));
    return inner_->ListRollouts(after_id, limit);
  }
  Result<std::vector<RolloutRow>> ListRolloutsInState(const std::string& state) override {
    FW_RETURN_IF_ERROR(Check("ListRolloutsInState"));
    return inner_->ListRolloutsInState(state);
  }
  Status UpdateRollout(const RolloutRow& rollout) override {
    FW_RETURN_IF_ERROR(Check("UpdateRollout"));
    return inner_->UpdateRollout(rollout);
  }
  Status PutRolloutGroup(const RolloutGroupRow& group) override {
    FW_RETURN_IF_ERROR(Check("PutRolloutGroup"));
    return inner_->PutRolloutGroup(group);
  }
  Result<std::vector<RolloutGroupRow>> ListRolloutGroups(int64_t rollout_id) override {
    FW_RETURN_IF_ERROR(Check("ListRolloutGroups"));
    return inner_->ListRolloutGroups(rollout_id);
  }
  Status AddRolloutMembers(const std::vector<RolloutMemberRow>& members) override {
    FW_RETURN_IF_ERROR(Check("AddRolloutMembers"));
    return inner_->AddRolloutMembers(members);
  }
  Status UpdateRolloutMember(const RolloutMemberRow& member) override {
    FW_RETURN_IF_ERROR(Check("UpdateRolloutMember"));
    return inner_->UpdateRolloutMember(member);
  }
  Result<std::optional<RolloutMemberRow>> GetRolloutMember(int64_t rollout_id, const std::string& serial) override {
    FW_RETURN_IF_ERROR(Check("GetRolloutMember"));
    return inner_->GetRolloutMember(rollout_id, serial);
  }
  Result<std::optional<RolloutMemberRow>> GetRolloutMemberByAction(int64_t action_id) override {
    FW_RETURN_IF_ERROR(Check("GetRolloutMemberByAction"));
    return inner_->GetRolloutMemberByAction(action_id);
  }
  Result<std::vector<RolloutMemberRow>> QueryRolloutMembers(const MemberQuery& query) override {
    FW_RETURN_IF_ERROR(Check("QueryRolloutMembers"));
    return inner_->QueryRolloutMembers(query);
  }
  Result<std::vector<RolloutMemberRow>> AssignableMembers(int64_t rollout_id, int64_t group_index, int64_t now_s,
                                                          int64_t limit) override {
    FW_RETURN_IF_ERROR(Check("AssignableMembers"));
    return inner_->AssignableMembers(rollout_id, group_index, now_s, limit);
  }
  Result<std::vector<std::pair<std::pair<int64_t, std::string>, int64_t>>> CountRolloutMembers(
      int64_t rollout_id) override {
    FW_RETURN_IF_ERROR(Check("CountRolloutMembers"));
    return inner_->CountRolloutMembers(rollout_id);
  }
  Status BumpRolloutCounter(int64_t rollout_id, int64_t group_index, const std::string& name, int64_t delta) override {
    FW_RETURN_IF_ERROR(Check("BumpRolloutCounter"));
    return inner_->BumpRolloutCounter(rollout_id, group_index, name, delta);
  }
  Result<std::vector<RolloutCounter>> ListRolloutCounters(int64_t rollout_id) override {
    FW_RETURN_IF_ERROR(Check("ListRolloutCounters"));
    return inner_->ListRolloutCounters(rollout_id);
  }
  Status AddSegment(const SegmentRecord& segment) override {
    FW_RETURN_IF_ERROR(Check("AddSegment"));
    return inner_->AddSegment(segment);
  }
  Result<std::vector<SegmentRecord>> ListSegments(const std::string& device_serial) override {
    FW_RETURN_IF_ERROR(Check("ListSegments"));
    return inner_->ListSegments(device_serial);
  }
  Result<std::optional<SegmentRecord>> GetSegment(const std::string& device_serial, int64_t first_seq,
                                                  int64_t last_seq) override {
    FW_RETURN_IF_ERROR(Check("GetSegment"));
    return inner_->GetSegment(device_serial, first_seq, last_seq);
  }
  Result<int64_t> PurgeSegmentsReceivedBefore(int64_t before_s) override {
    FW_RETURN_IF_ERROR(Check("PurgeSegmentsReceivedBefore"));
    return inner_->PurgeSegmentsReceivedBefore(before_s);
  }

 private:
  Status Check(const char* method) {
    const int c = faults_->code.load();
    if (c == 0) return Status::Ok();
    faults_->failures.fetch_add(1);
    if (static_cast<ErrorCode>(c) == ErrorCode::kTimeout) return Timeout(std::string(method) + ": lock timeout");
    return Status(static_cast<ErrorCode>(c), std::string("database unreachable: ") + method + ": connection refused");
  }
  std::unique_ptr<Store> inner_;
  std::shared_ptr<FaultSwitch> faults_;
};

}  // namespace fw::server::testing
