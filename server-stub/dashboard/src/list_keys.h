// Positions in the operator API's forward-only lists (internal to fw_server_dashboard): the API pages
// /v1/audit and /v1/alerts by key (seq, id) with `after=`, oldest first, and has no "newest" order;
// these find the positions the pages need with one-row requests.
//
// Contract:
//  - LastKey: the largest key of the list at `base` ("/v1/alerts"): doubling then bisecting over
//    `after` (about 2·log2(N) one-row requests). 0 for an empty list; nullopt with the failing reply.
//  - FirstAuditSeqAt: the smallest audit seq whose time is >= `time_s` (audit rows are appended in
//    time order: Record takes the decision's time inside the appending transaction), by bisection
//    over `after` below `last` (about log2(N) requests); last + 1 when none; nullopt with the reply.
//  - AuditActorOf: the actor of the first audit row from seq `from` on (one page of 100) with this
//    action and object and time `time_s`; "" when none. Needs the approver role (the API's rule).
// Thread safety: as UiApi (one request's thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ui_api.h"

namespace fw::server::dash {

std::optional<int64_t> LastKey(UiApi& api, const std::string& base, ApiReply* failed);
std::optional<int64_t> FirstAuditSeqAt(UiApi& api, int64_t time_s, int64_t last, ApiReply* failed);
std::string AuditActorOf(UiApi& api, int64_t from, const std::string& action, const std::string& object,
                         int64_t time_s);

}  // namespace fw::server::dash
