#include "fw/pkcs11_token.h"

#include <algorithm>
#include <mutex>

#include "fw/encoding.h"
#include "pkcs11_module.h"

namespace fw {

using pkcs11::CkrError;
using pkcs11::Session;

struct TokenSigner::Impl {
  std::unique_ptr<Session> session;
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_MECHANISM_TYPE mechanism = CKM_EDDSA;
  KeyType type = KeyType::kEd25519;
  std::unique_ptr<PublicKey> public_key;
  std::string label;
  Bytes id;
  std::string uri;  // without any PIN
  // The PIN, kept only for a key with CKA_ALWAYS_AUTHENTICATE (a login before every signature).
  std::optional<std::string> context_pin;
  mutable std::mutex mu;

  ~Impl() {
    if (context_pin) std::fill(context_pin->begin(), context_pin->end(), '\0');
  }
};

namespace {

// A raw r||s ECDSA signature (two 32-byte big-endian integers) as DER Ecdsa-Sig-Value.
Bytes EcdsaRawToDer(ByteSpan raw) {
  auto integer = [](ByteSpan v) {
    size_t i = 0;
    while (i + 1 < v.size() && v[i] == 0) ++i;
    Bytes out = {0x02};
    const bool pad = (v[i] & 0x80) != 0;
    out.push_back(static_cast<uint8_t>(v.size() - i + (pad ? 1 : 0)));
    if (pad) out.push_back(0);
    out.insert(out.end(), v.begin() + i, v.end());
    return out;
  };
  const size_t half = raw.size() / 2;
  Bytes r = integer(raw.subspan(0, half)), s = integer(raw.subspan(half));
  Bytes der = {0x30, static_cast<uint8_t>(r.size() + s.size())};
  der.insert(der.end(), r.begin(), r.end());
  der.insert(der.end(), s.begin(), s.end());
  return der;
}

std::string MechanismName(CK_MECHANISM_TYPE m) {
  if (m == CKM_EDDSA) return "CKM_EDDSA";
  if (m == CKM_ECDSA_SHA256) return "CKM_ECDSA_SHA256";
  return "CKM_ECDSA";
}

// The URI attributes that selected the key, for messages ("object=fw;id=%01").
std::string KeySelector(const Pkcs11Uri& uri) {
  Pkcs11Uri k;
  k.object = uri.object;
  k.id = uri.id;
  std::string s = k.ToString().substr(7);
  return s.empty() ? "(no object or id attribute)" : s;
}

CK_ATTRIBUTE Attr(CK_ATTRIBUTE_TYPE type, const void* value, size_t len) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(len)};
}

// The one private key matching the URI's object and id.
Result<CK_OBJECT_HANDLE> FindPrivateKey(const Session& s, const Pkcs11Uri& uri) {
  static const CK_OBJECT_CLASS kPrivate = CKO_PRIVATE_KEY;
  std::vector<CK_ATTRIBUTE> tmpl = {Attr(CKA_CLASS, &kPrivate, sizeof kPrivate)};
  if (uri.object) tmpl.push_back(Attr(CKA_LABEL, uri.object->data(), uri.object->size()));
  if (uri.id) tmpl.push_back(Attr(CKA_ID, uri.id->data(), uri.id->size()));
  FW_ASSIGN_OR_RETURN(auto found, s.Find(tmpl));
  const std::string where = " on token \"" + s.token().label + "\"";
  if (found.empty()) {
    return NotFound("no private key matches " + KeySelector(uri) + where +
                    " (fwsign key list shows what is there; private keys need the PIN)");
  }
  if (found.size() > 1) {
    return VerificationFailed(std::to_string(found.size()) + " private keys match " + KeySelector(uri) + where +
                              "; add id= (or a distinct object=) to pick exactly one");
  }
  return found[0];
}

// The public half of `key`: from the public-key object with the same CKA_ID (else CKA_LABEL).
Result<PublicKey> FindPublicKey(const Session& s, CK_OBJECT_HANDLE key, KeyType type, const Bytes& id,
                                const std::string& label) {
  static const CK_OBJECT_CLASS kPublic = CKO_PUBLIC_KEY;
  std::vector<CK_ATTRIBUTE> tmpl = {Attr(CKA_CLASS, &kPublic, sizeof kPublic)};
  if (!id.empty()) {
    tmpl.push_back(Attr(CKA_ID, id.data(), id.size()));
  } else {
    tmpl.push_back(Attr(CKA_LABEL, label.data(), label.size()));
  }
  FW_ASSIGN_OR_RETURN(auto found, s.Find(tmpl));
  // Some tokens keep CKA_EC_POINT on the private key itself.
  if (found.empty()) found.push_back(key);
  if (found.size() > 1) {
    return VerificationFailed(std::to_string(found.size()) + " public keys share the private key's " +
                              (id.empty() ? "label" : "id") + "; cannot tell which is its public half");
  }
  FW_ASSIGN_OR_RETURN(auto point, s.Attribute(found[0], CKA_EC_POINT));
  if (!point) {
    return NotFound("no public key object with the private key's " + std::string(id.empty() ? "label" : "id") +
                    " (CKA_EC_POINT); import the public key next to it");
  }
  return pkcs11::PublicKeyFromEcPoint(type, *point);
}

// Key type (checked against what fwsign signs with) and the mechanism to sign with.
Status ChooseKey(const Session& s, CK_OBJECT_HANDLE key, TokenSigner::Impl& impl) {
  FW_ASSIGN_OR_RETURN(CK_ULONG key_type, s.UlongAttribute(key, CKA_KEY_TYPE));
  FW_ASSIGN_OR_RETURN(auto params, s.Attribute(key, CKA_EC_PARAMS));
  FW_ASSIGN_OR_RETURN(impl.type, pkcs11::KeyTypeOf(key_type, params));
  if (impl.type == KeyType::kEd25519) {
    impl.mechanism = CKM_EDDSA;
  } else if (s.HasMechanism(CKM_ECDSA_SHA256)) {
    impl.mechanism = CKM_ECDSA_SHA256;
  } else {
    impl.mechanism = CKM_ECDSA;
  }
  if (!s.HasMechanism(impl.mechanism)) {
    return Unsupported("token \"" + s.token().label + "\" cannot sign with " + MechanismName(impl.mechanism));
  }
  return Status::Ok();
}

}  // namespace

TokenSigner::TokenSigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenSigner::~TokenSigner() = default;
KeyType TokenSigner::type() const { return impl_->type; }
const PublicKey& TokenSigner::public_key() const { return *impl_->public_key; }
std::string TokenSigner::describe() const { return "token key " + impl_->uri; }
const std::string& TokenSigner::token_label() const { return impl_->session->token().label; }
const std::string& TokenSigner::object_label() const { return impl_->label; }
const Bytes& TokenSigner::object_id() const { return impl_->id; }
std::string TokenSigner::mechanism_name() const { return MechanismName(impl_->mechanism); }

Result<Bytes> TokenSigner::Sign(ByteSpan message) const {
  std::lock_guard lock(impl_->mu);
  const Session& s = *impl_->session;
  Digest digest{};
  ByteSpan input = message;
  if (impl_->mechanism == CKM_ECDSA) {
    digest = Sha256::Of(message);
    input = digest;
  }
  CK_MECHANISM mech{impl_->mechanism, nullptr, 0};
  CK_RV rv = s.f()->C_SignInit(s.handle(), &mech, impl_->key);
  if (rv != CKR_OK) return CkrError("C_SignInit(" + MechanismName(impl_->mechanism) + ")", rv);
  if (impl_->context_pin) {
    std::string& pin = *impl_->context_pin;
    rv = s.f()->C_Login(s.handle(), CKU_CONTEXT_SPECIFIC, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
    if (rv != CKR_OK) return CkrError("C_Login(CKU_CONTEXT_SPECIFIC) for a CKA_ALWAYS_AUTHENTICATE key", rv);
  }
  Bytes sig(512);
  CK_ULONG len = sig.size();
  rv = s.f()->C_Sign(s.handle(), const_cast<CK_BYTE*>(input.data()), input.size(), sig.data(), &len);
  if (rv != CKR_OK) return CkrError("C_Sign(" + MechanismName(impl_->mechanism) + ")", rv);
  sig.resize(std::min<size_t>(len, sig.size()));
  if (impl_->type == KeyType::kEcdsaP256) {
    if (sig.size() != 64) return Corrupt("the token's ECDSA signature has " + std::to_string(sig.size()) + " bytes");
    sig = EcdsaRawToDer(sig);
  }
  Status ok = impl_->public_key->Verify(message, sig);
  if (!ok.ok()) {
    return VerificationFailed("the token's signature does not verify under its public key object (" + ok.message() +
                              ")");
  }
  return sig;
}

Result<std::unique_ptr<TokenSigner>> OpenTokenSigner(const Pkcs11Uri& uri, const TokenModule& module,
                                                     const std::optional<TokenPin>& pin) {
  if (uri.type && *uri.type != "private") {
    return InvalidArgument("type=" + *uri.type + ": a signing key is a private key (type=private)");
  }
  FW_ASSIGN_OR_RETURN(auto m, pkcs11::Module::Load(module));
  FW_ASSIGN_OR_RETURN(auto token, pkcs11::SelectToken(*m, uri));
  auto impl = std::make_unique<TokenSigner::Impl>();
  impl->uri = uri.ToString();
  FW_ASSIGN_OR_RETURN(impl->session, Session::Open(m, token));
  const Session& s = *impl->session;
  FW_RETURN_IF_ERROR(impl->session->Login(pin));
  FW_ASSIGN_OR_RETURN(impl->key, FindPrivateKey(s, uri));
  FW_ASSIGN_OR_RETURN(auto label, s.Attribute(impl->key, CKA_LABEL));
  FW_ASSIGN_OR_RETURN(auto id, s.Attribute(impl->key, CKA_ID));
  if (label) impl->label.assign(label->begin(), label->end());
  if (id) impl->id = *id;
  const std::string key_where = KeySelector(uri) + " on token \"" + token.label + "\"";
  FW_RETURN_IF_ERROR(ChooseKey(s, impl->key, *impl).WithContext("private key " + key_where));
  FW_ASSIGN_OR_RETURN(
      PublicKey pub,
      FindPublicKey(s, impl->key, impl->type, impl->id, impl->label).WithContext("private key " + key_where));
  impl->public_key = std::make_unique<PublicKey>(std::move(pub));
  FW_ASSIGN_OR_RETURN(auto always, s.Attribute(impl->key, CKA_ALWAYS_AUTHENTICATE));
  if (always && !always->empty() && (*always)[0] != CK_FALSE) {
    if (!pin) return InvalidArgument("private key " + key_where + " needs the PIN before every signature; none given");
    impl->context_pin = pin->value;
  }
  return std::make_unique<TokenSigner>(std::move(impl));
}

namespace {

std::string ClassName(CK_ULONG c) {
  switch (c) {
    case CKO_PRIVATE_KEY:
      return "private";
    case CKO_PUBLIC_KEY:
      return "public";
    case CKO_CERTIFICATE:
      return "cert";
    case CKO_SECRET_KEY:
      return "secret-key";
    case CKO_DATA:
      return "data";
    default:
      return "other";
  }
}

Result<TokenObject> Describe(const Session& s, CK_OBJECT_HANDLE obj) {
  TokenObject o;
  FW_ASSIGN_OR_RETURN(CK_ULONG cls, s.UlongAttribute(obj, CKA_CLASS));
  o.object_class = ClassName(cls);
  FW_ASSIGN_OR_RETURN(auto label, s.Attribute(obj, CKA_LABEL));
  FW_ASSIGN_OR_RETURN(auto id, s.Attribute(obj, CKA_ID));
  if (label) o.label.assign(label->begin(), label->end());
  if (id) o.id = *id;
  Pkcs11Uri u;
  u.token = s.token().label;
  if (!o.label.empty()) u.object = o.label;
  if (!o.id.empty()) u.id = o.id;
  u.type = o.object_class;
  o.uri = u.ToString();
  if (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY) return o;
  auto key_type = s.UlongAttribute(obj, CKA_KEY_TYPE);
  if (!key_type.ok()) return o;
  FW_ASSIGN_OR_RETURN(auto params, s.Attribute(obj, CKA_EC_PARAMS));
  o.key_type = pkcs11::KeyTypeText(*key_type, params);
  auto type = pkcs11::KeyTypeOf(*key_type, params);
  if (!type.ok()) return o;
  Result<PublicKey> pub = NotFound("no public key");
  if (cls == CKO_PRIVATE_KEY) {
    pub = FindPublicKey(s, obj, *type, o.id, o.label);
  } else if (auto point = s.Attribute(obj, CKA_EC_POINT); point.ok() && point->has_value()) {
    pub = pkcs11::PublicKeyFromEcPoint(*type, **point);
  }
  if (pub.ok()) o.key_id = pub->KeyId();
  return o;
}

}  // namespace

Result<TokenListing> ListTokenObjects(const Pkcs11Uri& token_selector, const TokenModule& module,
                                      const std::optional<TokenPin>& pin) {
  FW_ASSIGN_OR_RETURN(auto m, pkcs11::Module::Load(module));
  FW_ASSIGN_OR_RETURN(auto token, pkcs11::SelectToken(*m, token_selector));
  FW_ASSIGN_OR_RETURN(auto session, Session::Open(m, token));
  TokenListing out{token.label, token.manufacturer, token.model, token.serial, false, {}};
  if (pin) {
    FW_RETURN_IF_ERROR(session->Login(pin));
    out.logged_in = true;
  }
  FW_ASSIGN_OR_RETURN(auto objects, session->Find({}));
  for (CK_OBJECT_HANDLE obj : objects) {
    FW_ASSIGN_OR_RETURN(TokenObject o, Describe(*session, obj));
    out.objects.push_back(std::move(o));
  }
  return out;
}

}  // namespace fw
