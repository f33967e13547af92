// The first conv layer on AVX-512: 16 filters per register, up to 8 registers
// (128 filters) of float sums per pixel, two adjacent pixels at a time in the
// interior. Per input value: one broadcast, then per register one masked add
// (the +1 weights' lanes: 16 bits of the transposed +1 bits, loaded straight
// into a mask register) and one scalar add for the tap sum S; the epilogue
// forms y = (P + P) - S: half the vector ops of a sign-flipping XOR + add,
// in the same float order as the reference (bit for bit). Then y is compared
// with the thresholds, 16 output bits per register; no im2col, no float
// output array.
#include <immintrin.h>

#include <cstring>

#include "../tail.h"
#include "taps.h"

namespace pbn {
namespace {

// Bits [f, f + 16) of a packed row (f a multiple of 16): one kmovw from memory,
// no shift or GPR-to-mask move on the vector ports.
PBN_INLINE __mmask16 bits16(const word_t* row, std::size_t f) {
  __mmask16 m;
  // GCC turns a 16-bit load + mask into movzx + kmovw k, r32 (a port-5 op beside the adds); this is a pure load.
  asm("kmovw %1, %0" : "=k"(m) : "m"(*reinterpret_cast<const std::uint16_t*>(reinterpret_cast<const char*>(row) + f / 8)));
  return m;
}

// y = (P + P) - S compared with the thresholds: 16 output bits per register.
template <int NV>
PBN_INLINE void store_bits(const __m512 (&pos)[NV], float all, std::size_t f0, std::size_t n, const float* thresholds,
                           const word_t* flips, word_t* out_row) {
  const __m512 total = _mm512_set1_ps(all);
  auto* o = reinterpret_cast<char*>(out_row);  // little-endian: bits [f, f + 16) are bytes f / 8, f / 8 + 1
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const std::size_t f = f0 + 16 * std::size_t(v);
    const std::size_t live = n - f < 16 ? n - f : 16;
    const __mmask16 lanes = __mmask16((1u << live) - 1);
    const __m512 y = _mm512_sub_ps(_mm512_add_ps(pos[v], pos[v]), total);
    const __m512 t = _mm512_maskz_loadu_ps(lanes, thresholds + f);
    const __mmask16 flip = bits16(flips, f);
    const __mmask16 lt = _mm512_mask_cmp_ps_mask(lanes, y, t, _CMP_LT_OQ);
    const __mmask16 gt = _mm512_mask_cmp_ps_mask(lanes, y, t, _CMP_GT_OQ);
    const std::uint16_t bits = std::uint16_t((lt & ~flip) | (gt & flip));
    std::memcpy(o + 2 * (f / 16), &bits, sizeof bits);
  }
}

// One pixel, any position (padded taps skipped).
template <int NV>
PBN_INLINE void one_pixel(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw, std::size_t f0,
                          std::size_t n, const float* thresholds, const word_t* flips, word_t* out, std::size_t ldo,
                          std::size_t r) {
  const std::size_t c = s.words;
  __m512 pos[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) pos[v] = _mm512_setzero_ps();
  float all = 0.0f;
  for_each_tap(x, s, r, [&](const float* px, std::size_t j) PBN_INLINE_LAMBDA {
    const word_t* plus = wpos + j * ldw;
    for (std::size_t ch = 0; ch < c; ++ch) {
      all += px[ch];
      const __m512 xv = _mm512_set1_ps(px[ch]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        pos[v] = _mm512_mask_add_ps(pos[v], bits16(plus + ch * ldw, f0 + 16 * v), pos[v], xv);
    }
  });
  store_bits<NV>(pos, all, f0, n, thresholds, flips, out + r * ldo);
}

// Two horizontally adjacent pixels whose kernel columns are all inside the
// image: a kernel row's taps are then one contiguous run of kw * c floats, and
// the two pixels share every weight mask while their sums form two
// independent dependency chains (one pixel alone is bound by the add latency).
template <int NV>
PBN_INLINE void pixel_pair(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw, std::size_t f0,
                           std::size_t n, const float* thresholds, const word_t* flips, word_t* out, std::size_t ldo,
                           std::size_t r) {
  const std::size_t c = s.words, img = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
  __m512 pa[NV], pb[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) pa[v] = pb[v] = _mm512_setzero_ps();
  float all_a = 0.0f, all_b = 0.0f;
  const std::size_t run = s.kw * c;
  for (std::size_t ky = 0; ky < s.kh; ++ky) {
    const std::size_t iy = oy * s.sh + ky;
    if (iy < s.ph || iy - s.ph >= s.h) continue;
    const float* xa = x + ((img * s.h + (iy - s.ph)) * s.w + (ox * s.sw - s.pw)) * c;
    const float* xb = xa + s.sw * c;
    const word_t* plus = wpos + ky * run * ldw;
    for (std::size_t t = 0; t < run; ++t) {
      all_a += xa[t];
      all_b += xb[t];
      const __m512 va = _mm512_set1_ps(xa[t]), vb = _mm512_set1_ps(xb[t]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        const __mmask16 m = bits16(plus + t * ldw, f0 + 16 * v);
        pa[v] = _mm512_mask_add_ps(pa[v], m, pa[v], va);
        pb[v] = _mm512_mask_add_ps(pb[v], m, pb[v], vb);
      }
    }
  }
  store_bits<NV>(pa, all_a, f0, n, thresholds, flips, out + r * ldo);
  store_bits<NV>(pb, all_b, f0, n, thresholds, flips, out + (r + 1) * ldo);
}

template <int NV>
void filter_block(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw, std::size_t f0,
                  std::size_t n, const float* thresholds, const word_t* flips, word_t* out, std::size_t ldo,
                  std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1;) {
    const std::size_t ox = r % s.ow;
    const bool inside = ox * s.sw >= s.pw && (ox + 1) * s.sw + s.kw <= s.w + s.pw;  // ox and ox + 1
    if (inside && ox + 1 < s.ow && r + 1 < r1) {
      pixel_pair<NV>(x, s, wpos, ldw, f0, n, thresholds, flips, out, ldo, r);
      r += 2;
    } else {
      one_pixel<NV>(x, s, wpos, ldw, f0, n, thresholds, flips, out, ldo, r);
      r += 1;
    }
  }
}

}  // namespace

void first_conv_threshold__avx512(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw,
                                  std::size_t n, const float* thresholds, const word_t* flips, word_t* out,
                                  std::size_t ldo, std::size_t r0, std::size_t r1) {
  const std::size_t out_words = words_for(n);
  for (std::size_t r = r0; r < r1; ++r)
    for (std::size_t q = 0; q < out_words; ++q) out[r * ldo + q] = 0;  // 16-bit groups past n stay zero
  for (std::size_t f0 = 0; f0 < n; f0 += 128) {
    with_count<8>((min_sz(n - f0, 128) + 15) / 16, [&](auto nv) {
      filter_block<decltype(nv)::value>(x, s, wpos, ldw, f0, n, thresholds, flips, out, ldo, r0, r1);
    });
  }
}

}  // namespace pbn
