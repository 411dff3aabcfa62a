// Private to fw_signing: the PKCS#11 facade — the one header that includes pkcs11.h (p11-kit's,
// which has CKM_EDDSA). Module loading and sharing, CKR_ names, sessions, object search and
// attributes. fw/pkcs11_token.h states the behaviour seen from outside.
//
// Thread safety: the module registry is guarded by a mutex; a Session is used from one thread
// at a time. Failure model: errors are fw::Status values naming the function and CKR_ code.
#pragma once

// p11-kit's pkcs11.h is complete (CK_PTR etc. defined) and has CKM_EDDSA / CKK_EC_EDWARDS.
#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/pkcs11_token.h"
#include "fw/pkcs11_uri.h"
#include "fw/status.h"

namespace fw::pkcs11 {

std::string CkrName(CK_RV rv);
// "C_Sign: CKR_DEVICE_ERROR" as an I/O error (token not present / removed: not found).
Status CkrError(const std::string& what, CK_RV rv);

// A loaded, initialised module, shared by everyone in the process that loads the same path.
class Module {
 public:
  static Result<std::shared_ptr<Module>> Load(const TokenModule& module);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* f() const { return f_; }
  const std::string& path() const { return path_; }

 private:
  Module(std::string path, CK_FUNCTION_LIST* f, bool finalize) : path_(std::move(path)), f_(f), finalize_(finalize) {}
  std::string path_;
  CK_FUNCTION_LIST* f_;
  bool finalize_;  // we initialised it, so we finalise it
};

struct TokenFields {
  CK_SLOT_ID slot = 0;
  std::string label, manufacturer, model, serial;
  CK_FLAGS flags = 0;
};

// The one initialised token matching the URI's token attributes.
Result<TokenFields> SelectToken(const Module& module, const Pkcs11Uri& uri);

// A read-only session on a token; closed on destruction.
class Session {
 public:
  static Result<std::unique_ptr<Session>> Open(std::shared_ptr<Module> module, const TokenFields& token);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_FUNCTION_LIST* f() const { return module_->f(); }
  CK_SESSION_HANDLE handle() const { return handle_; }
  const TokenFields& token() const { return token_; }

  // Logs in as the user if the token needs it. A missing PIN when one is needed is an error.
  Status Login(const std::optional<TokenPin>& pin);
  // Objects matching the template (at most kMaxObjects).
  Result<std::vector<CK_OBJECT_HANDLE>> Find(std::vector<CK_ATTRIBUTE> tmpl) const;
  // An attribute's value; nullopt when the object has no such (or no readable) attribute.
  Result<std::optional<Bytes>> Attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const;
  Result<CK_ULONG> UlongAttribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const;
  bool HasMechanism(CK_MECHANISM_TYPE mech) const;

  static constexpr size_t kMaxObjects = 4096;

 private:
  Session(std::shared_ptr<Module> module, TokenFields token, CK_SESSION_HANDLE h)
      : module_(std::move(module)), token_(std::move(token)), handle_(h) {}
  std::shared_ptr<Module> module_;
  TokenFields token_;
  CK_SESSION_HANDLE handle_;
};

// The key type of a key object with its EC parameters: kEd25519 / kEcdsaP256, or an error saying
// why the key does not fit ("rsa", another curve).
Result<KeyType> KeyTypeOf(CK_KEY_TYPE key_type, const std::optional<Bytes>& ec_params);
std::string KeyTypeText(CK_KEY_TYPE key_type, const std::optional<Bytes>& ec_params);
// A public key from CKA_EC_POINT (DER OCTET STRING or raw).
Result<PublicKey> PublicKeyFromEcPoint(KeyType type, const Bytes& ec_point);

}  // namespace fw::pkcs11
