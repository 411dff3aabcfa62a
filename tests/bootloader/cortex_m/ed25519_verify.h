// Ed25519 signature verification (RFC 8032, cofactorless like OpenSSL) for the
// Cortex-M4 run of the boot core (tests/bootloader/cortex_m).
//
// Small and slow on purpose: field elements are 16 limbs of 16 bits, points use
// extended coordinates, scalar multiplication is plain double-and-add (it only
// handles public data: a public key, a signature, a digest). Rejects S >= L and
// public keys or R that do not decode to a curve point. The curve constants were
// derived from their definition (d = -121665/121666, sqrt(-1), the base point with
// y = 4/5), not copied.
//
// No heap, no exceptions, no OS calls. Thread safety: reentrant.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fw::boot::cortex_m {

// True if `sig` (R || S, 64 bytes) is a valid signature of `msg` by `public_key` (32 bytes).
bool Ed25519Verify(const uint8_t public_key[32], const uint8_t sig[64], const uint8_t* msg, size_t msg_len);

}  // namespace fw::boot::cortex_m
