#include "pkcs11_module.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

namespace fw::pkcs11 {
namespace {

std::mutex g_modules_mu;
std::map<std::string, std::weak_ptr<Module>>& Modules() {
  static auto* m = new std::map<std::string, std::weak_ptr<Module>>();
  return *m;
}

// A fixed-size, blank-padded CK_TOKEN_INFO field without its padding.
std::string Field(const CK_UTF8CHAR* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

bool Matches(const std::optional<std::string>& want, const std::string& have) { return !want || *want == have; }

std::string Describe(const TokenFields& t) {
  return "\"" + t.label + "\" (manufacturer \"" + t.manufacturer + "\", model \"" + t.model + "\", serial \"" +
         t.serial + "\")";
}

// Which token attributes of the URI a search used, for messages.
std::string Selector(const Pkcs11Uri& uri) {
  Pkcs11Uri t;
  t.token = uri.token;
  t.manufacturer = uri.manufacturer;
  t.model = uri.model;
  t.serial = uri.serial;
  std::string s = t.ToString().substr(7);
  return s.empty() ? "(no token attributes)" : s;
}

}  // namespace

std::string CkrName(CK_RV rv) {
  switch (rv) {
#define FW_CKR(x) \
  case x:         \
    return #x;
    FW_CKR(CKR_OK)
    FW_CKR(CKR_CANCEL)
    FW_CKR(CKR_HOST_MEMORY)
    FW_CKR(CKR_SLOT_ID_INVALID)
    FW_CKR(CKR_GENERAL_ERROR)
    FW_CKR(CKR_FUNCTION_FAILED)
    FW_CKR(CKR_ARGUMENTS_BAD)
    FW_CKR(CKR_ATTRIBUTE_SENSITIVE)
    FW_CKR(CKR_ATTRIBUTE_TYPE_INVALID)
    FW_CKR(CKR_DATA_LEN_RANGE)
    FW_CKR(CKR_DEVICE_ERROR)
    FW_CKR(CKR_DEVICE_MEMORY)
    FW_CKR(CKR_DEVICE_REMOVED)
    FW_CKR(CKR_FUNCTION_NOT_SUPPORTED)
    FW_CKR(CKR_KEY_HANDLE_INVALID)
    FW_CKR(CKR_KEY_TYPE_INCONSISTENT)
    FW_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED)
    FW_CKR(CKR_MECHANISM_INVALID)
    FW_CKR(CKR_MECHANISM_PARAM_INVALID)
    FW_CKR(CKR_OPERATION_ACTIVE)
    FW_CKR(CKR_OPERATION_NOT_INITIALIZED)
    FW_CKR(CKR_PIN_INCORRECT)
    FW_CKR(CKR_PIN_LEN_RANGE)
    FW_CKR(CKR_PIN_EXPIRED)
    FW_CKR(CKR_PIN_LOCKED)
    FW_CKR(CKR_SESSION_CLOSED)
    FW_CKR(CKR_SESSION_COUNT)
    FW_CKR(CKR_SESSION_HANDLE_INVALID)
    FW_CKR(CKR_TOKEN_NOT_PRESENT)
    FW_CKR(CKR_TOKEN_NOT_RECOGNIZED)
    FW_CKR(CKR_USER_ALREADY_LOGGED_IN)
    FW_CKR(CKR_USER_NOT_LOGGED_IN)
    FW_CKR(CKR_USER_PIN_NOT_INITIALIZED)
    FW_CKR(CKR_BUFFER_TOO_SMALL)
    FW_CKR(CKR_CRYPTOKI_NOT_INITIALIZED)
    FW_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED)
#undef FW_CKR
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

Status CkrError(const std::string& what, CK_RV rv) {
  std::string msg = what + ": " + CkrName(rv);
  if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED) return NotFound(msg);
  return IoError(msg);
}

Result<std::shared_ptr<Module>> Module::Load(const TokenModule& module) {
  const std::string where = "PKCS#11 module " + module.path + " (from " + module.origin + ")";
  std::lock_guard lock(g_modules_mu);
  if (auto existing = Modules()[module.path].lock()) return existing;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(module.path, ec)) return NotFound(where + ": no such file");
  void* handle = ::dlopen(module.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = ::dlerror();
    return Corrupt(where + ": not a loadable library: " + (err ? err : "dlopen failed"));
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* f = nullptr;
  if (get == nullptr || get(&f) != CKR_OK || f == nullptr) {
    ::dlclose(handle);
    return Corrupt(where + ": not a PKCS#11 module (no C_GetFunctionList)");
  }
  // Modules are never dlclose()d from here on: SoftHSM (through OpenSSL) leaves exit handlers.
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = f->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return CkrError(where + ": C_Initialize", rv);
  std::shared_ptr<Module> m(new Module(module.path, f, rv == CKR_OK));
  Modules()[module.path] = m;
  return m;
}

Module::~Module() {
  if (finalize_) f_->C_Finalize(nullptr);
}

Result<TokenFields> SelectToken(const Module& module, const Pkcs11Uri& uri) {
  CK_ULONG n = 0;
  CK_RV rv = module.f()->C_GetSlotList(CK_TRUE, nullptr, &n);
  if (rv != CKR_OK) return CkrError("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(std::min<CK_ULONG>(n, 1024));
  n = slots.size();
  rv = module.f()->C_GetSlotList(CK_TRUE, slots.data(), &n);
  if (rv != CKR_OK) return CkrError("C_GetSlotList", rv);
  slots.resize(std::min<size_t>(n, slots.size()));
  std::vector<TokenFields> seen, matched;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (module.f()->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;  // SoftHSM's spare empty slot
    TokenFields t{slot,
                  Field(info.label, sizeof info.label),
                  Field(info.manufacturerID, sizeof info.manufacturerID),
                  Field(info.model, sizeof info.model),
                  Field(info.serialNumber, sizeof info.serialNumber),
                  info.flags};
    seen.push_back(t);
    if (Matches(uri.token, t.label) && Matches(uri.manufacturer, t.manufacturer) && Matches(uri.model, t.model) &&
        Matches(uri.serial, t.serial)) {
      matched.push_back(t);
    }
  }
  if (matched.size() == 1) return matched[0];
  std::string list;
  for (const auto& t : (matched.empty() ? seen : matched)) list += (list.empty() ? "" : ", ") + Describe(t);
  if (matched.empty()) {
    return NotFound("no token matches " + Selector(uri) + " in " + module.path() +
                    (seen.empty() ? " (it has no initialised token)" : "; tokens: " + list));
  }
  return VerificationFailed(std::to_string(matched.size()) + " tokens match " + Selector(uri) + " in " + module.path() +
                            ": " + list + "; add serial= to pick one");
}

Result<std::unique_ptr<Session>> Session::Open(std::shared_ptr<Module> module, const TokenFields& token) {
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = module->f()->C_OpenSession(token.slot, CKF_SERIAL_SESSION, nullptr, nullptr, &h);
  if (rv != CKR_OK) return CkrError("token \"" + token.label + "\": C_OpenSession", rv);
  return std::unique_ptr<Session>(new Session(std::move(module), token, h));
}

Session::~Session() { f()->C_CloseSession(handle_); }

Status Session::Login(const std::optional<TokenPin>& pin) {
  const std::string where = "token \"" + token_.label + "\"";
  if (token_.flags & CKF_USER_PIN_LOCKED) {
    return VerificationFailed(where +
                              ": the user PIN is locked (too many wrong PINs); the token's officer must reset it");
  }
  if ((token_.flags & CKF_LOGIN_REQUIRED) == 0) return Status::Ok();
  if (!pin) {
    return InvalidArgument(where +
                           " needs a PIN: add pin-source=file:PATH to the URI or set FW_PKCS11_PIN (never on the "
                           "command line)");
  }
  std::string value = pin->value;
  CK_RV rv = f()->C_Login(handle_, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(value.data()), value.size());
  std::fill(value.begin(), value.end(), '\0');
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) return Status::Ok();
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
    // Tell the operator before the next try locks the token (nothing here ever retries).
    CK_TOKEN_INFO info{};
    std::string tries;
    if (f()->C_GetTokenInfo(token_.slot, &info) == CKR_OK) {
      if (info.flags & CKF_USER_PIN_FINAL_TRY) {
        tries = "; the next wrong PIN locks the token";
      } else if (info.flags & CKF_USER_PIN_COUNT_LOW) {
        tries = "; the token reports few tries left";
      }
    }
    return VerificationFailed(where + ": wrong PIN (from " + pin->origin + "): " + CkrName(rv) + tries);
  }
  if (rv == CKR_PIN_LOCKED) {
    return VerificationFailed(where + ": the user PIN is locked (CKR_PIN_LOCKED); the token's officer must reset it");
  }
  return CkrError(where + ": C_Login", rv);
}

Result<std::vector<CK_OBJECT_HANDLE>> Session::Find(std::vector<CK_ATTRIBUTE> tmpl) const {
  CK_RV rv = f()->C_FindObjectsInit(handle_, tmpl.data(), tmpl.size());
  if (rv != CKR_OK) return CkrError("C_FindObjectsInit", rv);
  std::vector<CK_OBJECT_HANDLE> out;
  CK_OBJECT_HANDLE batch[64];
  while (out.size() < kMaxObjects) {
    CK_ULONG got = 0;
    rv = f()->C_FindObjects(handle_, batch, 64, &got);
    if (rv != CKR_OK || got == 0) break;
    out.insert(out.end(), batch, batch + std::min<CK_ULONG>(got, 64));
  }
  f()->C_FindObjectsFinal(handle_);
  if (rv != CKR_OK) return CkrError("C_FindObjects", rv);
  return out;
}

Result<std::optional<Bytes>> Session::Attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = f()->C_GetAttributeValue(handle_, obj, &a, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return std::optional<Bytes>();
  }
  if (rv != CKR_OK) return CkrError("C_GetAttributeValue", rv);
  if (a.ulValueLen > (1u << 16)) return Corrupt("token attribute of " + std::to_string(a.ulValueLen) + " bytes");
  Bytes value(a.ulValueLen);
  a.pValue = value.data();
  rv = f()->C_GetAttributeValue(handle_, obj, &a, 1);
  if (rv != CKR_OK) return CkrError("C_GetAttributeValue", rv);
  value.resize(std::min<size_t>(a.ulValueLen, value.size()));
  return std::optional<Bytes>(std::move(value));
}

Result<CK_ULONG> Session::UlongAttribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const {
  CK_ULONG v = 0;
  CK_ATTRIBUTE a{type, &v, sizeof v};
  CK_RV rv = f()->C_GetAttributeValue(handle_, obj, &a, 1);
  if (rv != CKR_OK) return CkrError("C_GetAttributeValue", rv);
  return v;
}

bool Session::HasMechanism(CK_MECHANISM_TYPE mech) const {
  CK_MECHANISM_INFO info{};
  return f()->C_GetMechanismInfo(token_.slot, mech, &info) == CKR_OK && (info.flags & CKF_SIGN) != 0;
}

namespace {
const Bytes kP256Oid = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const Bytes kEd25519Oid = {0x06, 0x03, 0x2b, 0x65, 0x70};
const Bytes kEd25519Name = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
}  // namespace

std::string KeyTypeText(CK_KEY_TYPE key_type, const std::optional<Bytes>& ec_params) {
  if (key_type == CKK_RSA) return "rsa";
  if (key_type == CKK_EC) return ec_params == kP256Oid ? "ecdsa-p256" : "ec (not P-256)";
  if (key_type == CKK_EC_EDWARDS) {
    return ec_params == kEd25519Oid || ec_params == kEd25519Name ? "ed25519" : "eddsa (not Ed25519)";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKK_0x%lx", static_cast<unsigned long>(key_type));
  return buf;
}

Result<KeyType> KeyTypeOf(CK_KEY_TYPE key_type, const std::optional<Bytes>& ec_params) {
  const std::string text = KeyTypeText(key_type, ec_params);
  if (text == "ed25519") return KeyType::kEd25519;
  if (text == "ecdsa-p256") return KeyType::kEcdsaP256;
  return VerificationFailed("the key is " + text + "; fwsign signs with ed25519 or ecdsa-p256 keys only");
}

Result<PublicKey> PublicKeyFromEcPoint(KeyType type, const Bytes& ec_point) {
  const size_t want = type == KeyType::kEd25519 ? 32 : 65;
  Bytes point;
  if (ec_point.size() == want + 2 && ec_point[0] == 0x04 && ec_point[1] == want) {
    point.assign(ec_point.begin() + 2, ec_point.end());  // DER OCTET STRING
  } else if (ec_point.size() == want) {
    point = ec_point;  // some tokens return the raw point
  } else {
    return Corrupt("CKA_EC_POINT of " + std::to_string(ec_point.size()) + " bytes is not a " +
                   std::string(KeyTypeName(type)) + " point");
  }
  if (type == KeyType::kEd25519) return PublicKey::FromRawEd25519(point);
  // SubjectPublicKeyInfo: id-ecPublicKey, prime256v1, BIT STRING of the uncompressed point.
  Bytes der = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
  der.insert(der.end(), kP256Oid.begin(), kP256Oid.end());
  der.insert(der.end(), {0x03, 0x42, 0x00});
  der.insert(der.end(), point.begin(), point.end());
  return PublicKey::FromDer(der);
}

}  // namespace fw::pkcs11
