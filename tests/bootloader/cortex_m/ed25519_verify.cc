// Ed25519 verification over GF(2^255 - 19); see ed25519_verify.h.
#include "ed25519_verify.h"

#include "sha2.h"

namespace fw::boot::cortex_m {
namespace {

// A field element: value = sum limb[i] * 2^(16 i); limbs may run over 16 bits between carries.
struct Fe {
  int64_t v[16];
};

constexpr Fe kZero = {};
constexpr Fe kOne = {{1}};
constexpr Fe kD = {{0x78a3, 0x1359, 0x4dca, 0x75eb, 0xd8ab, 0x4141, 0x0a4d, 0x0070, 0xe898, 0x7779, 0x4079, 0x8cc7,
                    0xfe73, 0x2b6f, 0x6cee, 0x5203}};
constexpr Fe kD2 = {{0xf159, 0x26b2, 0x9b94, 0xebd6, 0xb156, 0x8283, 0x149a, 0x00e0, 0xd130, 0xeef3, 0x80f2, 0x198e,
                     0xfce7, 0x56df, 0xd9dc, 0x2406}};
constexpr Fe kSqrtM1 = {{0xa0b0, 0x4a0e, 0x1b27, 0xc4ee, 0xe478, 0xad2f, 0x1806, 0x2f43, 0xd7a7, 0x3dfb, 0x0099, 0x2b4d,
                         0xdf0b, 0x4fc1, 0x2480, 0x2b83}};
constexpr Fe kBaseX = {{0xd51a, 0x8f25, 0x2d60, 0xc956, 0xa7b2, 0x9525, 0xc760, 0x692c, 0xdc5c, 0xfdd6, 0xe231, 0xc0a4,
                        0x53fe, 0xcd6e, 0x36d3, 0x2169}};
constexpr Fe kBaseY = {{0x6658, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666,
                        0x6666, 0x6666, 0x6666, 0x6666}};
// Little-endian exponents: p - 2 (inverse), (p - 5) / 8 (square-root candidate).
constexpr uint8_t kExpInvert[32] = {0xeb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
constexpr uint8_t kExpSqrt[32] = {0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};
// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
constexpr uint8_t kOrder[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

// Moves each limb's overflow into the next; 2^256 = 38 (mod p) folds the top into limb 0.
void Carry(Fe& a) {
  for (int i = 0; i < 16; ++i) {
    int64_t c = a.v[i] >> 16;
    a.v[i] -= c * 65536;
    if (i < 15) {
      a.v[i + 1] += c;
    } else {
      a.v[0] += 38 * c;
    }
  }
}

Fe Add(const Fe& a, const Fe& b) {
  Fe r;
  for (int i = 0; i < 16; ++i) r.v[i] = a.v[i] + b.v[i];
  return r;
}

Fe Sub(const Fe& a, const Fe& b) {
  Fe r;
  for (int i = 0; i < 16; ++i) r.v[i] = a.v[i] - b.v[i];
  return r;
}

Fe Mul(const Fe& a, const Fe& b) {
  int64_t t[31] = {};
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) t[i + j] += a.v[i] * b.v[j];
  for (int i = 0; i < 15; ++i) t[i] += 38 * t[i + 16];
  Fe r;
  for (int i = 0; i < 16; ++i) r.v[i] = t[i];
  Carry(r);
  Carry(r);
  return r;
}

Fe Pow(const Fe& a, const uint8_t exp[32]) {
  Fe r = kOne;
  for (int i = 255; i >= 0; --i) {
    r = Mul(r, r);
    if ((exp[i / 8] >> (i % 8)) & 1) r = Mul(r, a);
  }
  return r;
}

// The canonical 32-byte little-endian encoding (value reduced below p).
void Pack(const Fe& a, uint8_t out[32]) {
  Fe t = a;
  Carry(t);
  Carry(t);
  Carry(t);
  for (int round = 0; round < 2; ++round) {  // subtract p while the result stays non-negative
    Fe m;
    m.v[0] = t.v[0] - 0xffed;
    for (int i = 1; i < 15; ++i) {
      m.v[i] = t.v[i] - 0xffff - ((m.v[i - 1] >> 16) & 1);
      m.v[i - 1] &= 0xffff;
    }
    m.v[15] = t.v[15] - 0x7fff - ((m.v[14] >> 16) & 1);
    m.v[14] &= 0xffff;
    if (((m.v[15] >> 16) & 1) == 0) t = m;
  }
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = static_cast<uint8_t>(t.v[i]);
    out[2 * i + 1] = static_cast<uint8_t>(t.v[i] >> 8);
  }
}

Fe Unpack(const uint8_t in[32]) {
  Fe r;
  for (int i = 0; i < 16; ++i) r.v[i] = in[2 * i] | (int64_t{in[2 * i + 1]} << 8);
  r.v[15] &= 0x7fff;
  return r;
}

bool Equal(const Fe& a, const Fe& b) {
  uint8_t x[32], y[32];
  Pack(a, x);
  Pack(b, y);
  uint8_t diff = 0;
  for (int i = 0; i < 32; ++i) diff |= x[i] ^ y[i];
  return diff == 0;
}

int Parity(const Fe& a) {
  uint8_t x[32];
  Pack(a, x);
  return x[0] & 1;
}

// Extended twisted Edwards coordinates: x = X/Z, y = Y/Z, x y = T/Z.
struct Point {
  Fe x, y, z, t;
};

// Unified addition (a = -1, "add-2008-hwcd-3"); also doubles.
Point AddPoints(const Point& p, const Point& q) {
  Fe a = Mul(Sub(p.y, p.x), Sub(q.y, q.x));
  Fe b = Mul(Add(p.y, p.x), Add(q.y, q.x));
  Fe c = Mul(Mul(p.t, q.t), kD2);
  Fe d = Mul(p.z, q.z);
  d = Add(d, d);
  Fe e = Sub(b, a), f = Sub(d, c), g = Add(d, c), h = Add(b, a);
  return {Mul(e, f), Mul(h, g), Mul(f, g), Mul(e, h)};
}

Point ScalarMul(const Point& p, const uint8_t s[32]) {
  Point r = {kZero, kOne, kOne, kZero};
  for (int i = 255; i >= 0; --i) {
    r = AddPoints(r, r);
    if ((s[i / 8] >> (i % 8)) & 1) r = AddPoints(r, p);
  }
  return r;
}

// Decodes a point (RFC 8032 5.1.3); false if y >= p or no x exists.
bool Decode(const uint8_t in[32], Point* out) {
  Fe y = Unpack(in);
  uint8_t canonical[32];
  Pack(y, canonical);
  for (int i = 0; i < 31; ++i)
    if (canonical[i] != in[i]) return false;
  if (canonical[31] != (in[31] & 0x7f)) return false;
  Fe y2 = Mul(y, y);
  Fe u = Sub(y2, kOne);
  Fe v = Add(Mul(y2, kD), kOne);
  Fe v3 = Mul(Mul(v, v), v);
  Fe x = Mul(Mul(u, v3), Pow(Mul(Mul(v3, v3), Mul(v, u)), kExpSqrt));  // u v^3 (u v^7)^((p-5)/8)
  Fe vx2 = Mul(v, Mul(x, x));
  if (!Equal(vx2, u)) {
    if (!Equal(vx2, Sub(kZero, u))) return false;
    x = Mul(x, kSqrtM1);
  }
  int sign = in[31] >> 7;
  if (Equal(x, kZero) && sign) return false;
  if (Parity(x) != sign) x = Sub(kZero, x);
  *out = {x, y, kOne, Mul(x, y)};
  return true;
}

void Encode(const Point& p, uint8_t out[32]) {
  Fe zi = Pow(p.z, kExpInvert);
  Pack(Mul(p.y, zi), out);
  out[31] ^= static_cast<uint8_t>(Parity(Mul(p.x, zi)) << 7);
}

// a < L for a 32-byte little-endian scalar.
bool BelowOrder(const uint8_t a[32]) {
  for (int i = 31; i >= 0; --i) {
    if (a[i] != kOrder[i]) return a[i] < kOrder[i];
  }
  return false;
}

// The 64-byte little-endian `in` mod L, bit by bit: r = 2 r + bit, minus L when r >= L.
void ReduceModOrder(const uint8_t in[64], uint8_t out[32]) {
  uint8_t r[32] = {};
  for (int bit = 511; bit >= 0; --bit) {
    int carry = (in[bit / 8] >> (bit % 8)) & 1;
    for (int i = 0; i < 32; ++i) {
      int x = (r[i] << 1) | carry;
      r[i] = static_cast<uint8_t>(x);
      carry = x >> 8;
    }
    if (!BelowOrder(r)) {  // r < 2 L < 2^254, so no carry out of the top byte
      int borrow = 0;
      for (int i = 0; i < 32; ++i) {
        int x = r[i] - kOrder[i] - borrow;
        borrow = x < 0;
        r[i] = static_cast<uint8_t>(x);
      }
    }
  }
  for (int i = 0; i < 32; ++i) out[i] = r[i];
}

}  // namespace

bool Ed25519Verify(const uint8_t public_key[32], const uint8_t sig[64], const uint8_t* msg, size_t msg_len) {
  const uint8_t* r_bytes = sig;
  const uint8_t* s = sig + 32;
  if (!BelowOrder(s)) return false;
  Point a, r;
  if (!Decode(public_key, &a) || !Decode(r_bytes, &r)) return false;
  uint8_t digest[64], k[32];
  Sha512 h;
  h.Update(r_bytes, 32);
  h.Update(public_key, 32);
  h.Update(msg, msg_len);
  h.Final(digest);
  ReduceModOrder(digest, k);
  // [S]B == R + [k]A, checked as encode([S]B - [k]A) == R.
  Point minus_a = {Sub(kZero, a.x), a.y, a.z, Sub(kZero, a.t)};
  Point base = {kBaseX, kBaseY, kOne, Mul(kBaseX, kBaseY)};
  uint8_t check[32];
  Encode(AddPoints(ScalarMul(base, s), ScalarMul(minus_a, k)), check);
  uint8_t diff = 0;
  for (int i = 0; i < 32; ++i) diff |= check[i] ^ r_bytes[i];
  return diff == 0;
}

}  // namespace fw::boot::cortex_m
