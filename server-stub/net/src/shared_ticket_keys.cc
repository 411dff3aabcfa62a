// Session-ticket keys shared through the store (fw/server/shared_ticket_keys.h).
#include "fw/server/shared_ticket_keys.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>

#include "fw/crypto.h"
#include "fw/encoding.h"

namespace fw::server {
namespace {

constexpr size_t kKeyBytes = 80;

TicketKey RandomKey() {
  auto bytes = RandomBytes(kKeyBytes);
  if (!bytes.ok() || bytes->size() != kKeyBytes) std::abort();  // no randomness: nothing safe to do
  TicketKey k;
  std::memcpy(k.name.data(), bytes->data(), 16);
  std::memcpy(k.hmac_key.data(), bytes->data() + 16, 32);
  std::memcpy(k.aes_key.data(), bytes->data() + 48, 32);
  return k;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

std::string KeyName(int64_t period) { return kTicketKeySettingPrefix + std::to_string(period); }

// The period of a settings key "tls_ticket_key:<period>"; nullopt when it is not one.
std::optional<int64_t> PeriodOf(const std::string& key) {
  const std::string_view prefix = kTicketKeySettingPrefix;
  if (key.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  int64_t period = 0;
  const char* first = key.data() + prefix.size();
  const char* last = key.data() + key.size();
  auto [end, ec] = std::from_chars(first, last, period);
  if (ec != std::errc() || end != last || first == last) return std::nullopt;
  return period;
}

class Source {
 public:
  Source(StoreOpener open, Clock& clock, SharedTicketKeysOptions options)
      : open_(std::move(open)), clock_(clock), options_(options) {
    if (options_.rotation_seconds <= 0) options_.rotation_seconds = 1;
  }

  TicketKeySet Get() {
    const int64_t period = FloorDiv(clock_.WallSeconds(), options_.rotation_seconds);
    const int64_t now_ms = clock_.MonotonicMs();
    std::unique_lock<std::mutex> db(db_mu_, std::defer_lock);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (period_ == period && (shared_ || now_ms < retry_at_ms_)) return keys_;
      // Someone else is asking the database: go on with the cached set (its keys are still valid).
      if (period_ != kNone && !db.try_lock()) return keys_;
    }
    if (!db.owns_lock()) db.lock();  // nothing cached yet: wait for the first answer
    Refresh(period, now_ms);
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }

 private:
  static constexpr int64_t kNone = INT64_MIN;

  // This period's shared key (written when absent; older rows deleted when this instance wrote it).
  Result<TicketKey> SharedKey(int64_t period) {
    if (!store_) {
      auto opened = open_();
      if (!opened.ok()) return opened.status();
      store_ = std::move(opened).value();
    }
    if (auto it = db_keys_.find(period); it != db_keys_.end()) return it->second;
    const std::string mine = TicketKeyHex(RandomKey());
    FW_ASSIGN_OR_RETURN(std::string stored, store_->PutSettingIfAbsent(KeyName(period), mine));
    FW_ASSIGN_OR_RETURN(TicketKey key, ParseTicketKeyHex(stored).WithContext(KeyName(period)));
    db_keys_[period] = key;
    if (stored == mine) {  // the writer tidies: rows before the previous period
      FW_ASSIGN_OR_RETURN(auto names, store_->ListSettingKeys(kTicketKeySettingPrefix));
      for (const std::string& name : names) {
        const auto p = PeriodOf(name);
        if (p && *p < period - 1) FW_RETURN_IF_ERROR(store_->DeleteSetting(name));
      }
    }
    if (db_keys_.count(period - 1) == 0) {
      FW_ASSIGN_OR_RETURN(auto previous, store_->GetSetting(KeyName(period - 1)));
      if (previous) {
        FW_ASSIGN_OR_RETURN(db_keys_[period - 1], ParseTicketKeyHex(*previous).WithContext(KeyName(period - 1)));
      }
    }
    return key;
  }

  // Called with db_mu_ held: asks the database, then publishes the new set under mu_.
  void Refresh(int64_t period, int64_t now_ms) {
    const Result<TicketKey> shared = SharedKey(period);
    if (shared.ok() && logged_) {
      std::cerr << "fwserver: TLS ticket keys: shared through the database again" << std::endl;
      logged_ = false;
    } else if (!shared.ok() && !logged_) {
      std::cerr << "fwserver: TLS ticket keys: " << shared.status().message()
                << "; using keys made in this process until the database answers (sessions resume on this "
                   "instance only)"
                << std::endl;
      logged_ = true;
    }
    if (!shared.ok() && local_keys_.count(period) == 0) local_keys_[period] = RandomKey();
    for (auto* m : {&db_keys_, &local_keys_}) {
      for (auto it = m->begin(); it != m->end();)
        it = (it->first < period - 1 || it->first > period) ? m->erase(it) : ++it;
    }
    TicketKeySet set;
    set.current = shared.ok() ? *shared : local_keys_[period];
    if (auto it = db_keys_.find(period - 1); it != db_keys_.end()) set.previous.push_back(it->second);
    for (const auto& [p, key] : local_keys_) {
      if (!shared.ok() && p == period) continue;  // it is the current one
      set.previous.push_back(key);
    }
    std::lock_guard<std::mutex> lock(mu_);
    keys_ = std::move(set);
    period_ = period;
    shared_ = shared.ok();
    retry_at_ms_ = now_ms + options_.retry_ms;
  }

  const StoreOpener open_;
  Clock& clock_;
  SharedTicketKeysOptions options_;

  std::mutex db_mu_;  // one thread at a time asks the database; guards the members below
  std::unique_ptr<Store> store_;
  std::map<int64_t, TicketKey> db_keys_;     // shared keys by period (this and the previous one)
  std::map<int64_t, TicketKey> local_keys_;  // keys made here while the database failed, by period
  bool logged_ = false;                      // the current outage was logged

  std::mutex mu_;  // guards the published set below
  TicketKeySet keys_;
  int64_t period_ = kNone;
  bool shared_ = false;
  int64_t retry_at_ms_ = 0;
};

}  // namespace

std::string TicketKeyHex(const TicketKey& key) {
  std::vector<uint8_t> bytes(key.name.begin(), key.name.end());
  bytes.insert(bytes.end(), key.hmac_key.begin(), key.hmac_key.end());
  bytes.insert(bytes.end(), key.aes_key.begin(), key.aes_key.end());
  return HexEncode(bytes);
}

Result<TicketKey> ParseTicketKeyHex(const std::string& hex) {
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != kKeyBytes || HexEncode(*bytes) != hex) {
    return Corrupt("a TLS ticket key must be 160 lower-case hex digits (80 bytes)");
  }
  TicketKey k;
  std::memcpy(k.name.data(), bytes->data(), 16);
  std::memcpy(k.hmac_key.data(), bytes->data() + 16, 32);
  std::memcpy(k.aes_key.data(), bytes->data() + 48, 32);
  return k;
}

TicketKeySource DatabaseTicketKeys(StoreOpener open, Clock& clock, SharedTicketKeysOptions options) {
  auto source = std::make_shared<Source>(std::move(open), clock, options);
  return [source]() { return source->Get(); };
}

}  // namespace fw::server
