// Pkcs11Uri: an RFC 7512 "pkcs11:" URI naming a token object, parsed into its attributes.
//
//   pkcs11:token=vendor;object=image-signing;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//
// Path attributes (';'-separated): token, manufacturer, serial, model (CK_TOKEN_INFO fields),
// object (CKA_LABEL), id (CKA_ID, bytes), type (private | public | cert | secret-key | data).
// Query attributes ('&'-separated): module-path, module-name, pin-source, pin-value.
// Values are percent-decoded (%XX; a bad escape is an error). The scheme is case-insensitive.
// Anything else — an unknown or repeated attribute, an empty value, a value longer than the
// PKCS#11 field it is matched against, a URI over kMaxUriLength, a control character or space —
// is an InvalidArgument that names the attribute (or the character position) at fault.
// Parsing accepts pin-value because RFC 7512 does; OpenSigner refuses it (PINs never on argv).
//
// Thread safety: values only. Failure model: errors are values, never exceptions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

namespace fw {

struct Pkcs11Uri {
  static constexpr size_t kMaxUriLength = 4096;

  // Path attributes.
  std::optional<std::string> token;         // token label (≤ 32 bytes)
  std::optional<std::string> manufacturer;  // token manufacturer id (≤ 32 bytes)
  std::optional<std::string> serial;        // token serial number (≤ 16 bytes)
  std::optional<std::string> model;         // token model (≤ 16 bytes)
  std::optional<std::string> object;        // CKA_LABEL
  std::optional<std::vector<uint8_t>> id;   // CKA_ID
  std::optional<std::string> type;          // object class name
  // Query attributes.
  std::optional<std::string> module_path;
  std::optional<std::string> module_name;
  std::optional<std::string> pin_source;
  std::optional<std::string> pin_value;

  static Result<Pkcs11Uri> Parse(std::string_view text);
  // The URI text (attributes in a fixed order, values percent-encoded where needed). A pin-value
  // is written as "pin-value=***" unless `with_pin` — messages and logs never carry a PIN.
  std::string ToString(bool with_pin = false) const;
};

}  // namespace fw
