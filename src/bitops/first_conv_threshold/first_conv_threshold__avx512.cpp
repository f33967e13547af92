// The first conv layer on AVX-512: 16 filters per register, up to 8 registers
// (128 filters) of float sums per pixel. Per input value: one broadcast, then
// per register an XOR of the sign masks (the +-1 weight) and an add - the same
// float32 additions in the same (ky, kx, c) order as the reference, so the
// results agree bit for bit. The epilogue compares with the thresholds and
// writes 16 output bits per register; no im2col, no float output array.
#include <immintrin.h>

#include <cstring>

#include "../kernels.h"

namespace pbn {
namespace {

template <int NV>
void filter_block(const float* x, const ConvShape& s, const std::uint32_t* wsign, std::size_t ldw, std::size_t f0,
                  std::size_t n, const float* thresholds, const word_t* flips, word_t* out, std::size_t r0,
                  std::size_t r1) {
  const std::size_t c = s.words, out_words = words_for(n);
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t img = r / (s.oh * s.ow), oy = r / s.ow % s.oh, ox = r % s.ow;
    __m512 acc[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
    for (std::size_t ky = 0; ky < s.kh; ++ky) {
      const std::size_t iy = oy * s.sh + ky;
      if (iy < s.ph || iy - s.ph >= s.h) continue;
      for (std::size_t kx = 0; kx < s.kw; ++kx) {
        const std::size_t ix = ox * s.sw + kx;
        if (ix < s.pw || ix - s.pw >= s.w) continue;
        const float* px = x + ((img * s.h + (iy - s.ph)) * s.w + (ix - s.pw)) * c;
        const std::uint32_t* sign = wsign + (ky * s.kw + kx) * c * ldw + f0;
        for (std::size_t ch = 0; ch < c; ++ch) {
          const __m512i xv = _mm512_castps_si512(_mm512_set1_ps(px[ch]));
#pragma GCC unroll 8
          for (int v = 0; v < NV; ++v)
            acc[v] = _mm512_add_ps(acc[v], _mm512_castsi512_ps(_mm512_xor_si512(
                                               xv, _mm512_loadu_si512(sign + ch * ldw + 16 * v))));
        }
      }
    }
    auto* o = reinterpret_cast<char*>(out + r * out_words);  // 16 output bits per register, little-endian
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const std::size_t f = f0 + 16 * std::size_t(v);
      const std::size_t live = n - f < 16 ? n - f : 16;
      const __mmask16 lanes = __mmask16((1u << live) - 1);
      const __m512 t = _mm512_maskz_loadu_ps(lanes, thresholds + f);
      const __mmask16 flip = __mmask16(flips[f / 64] >> (f % 64));
      const __mmask16 lt = _mm512_mask_cmp_ps_mask(lanes, acc[v], t, _CMP_LT_OQ);
      const __mmask16 gt = _mm512_mask_cmp_ps_mask(lanes, acc[v], t, _CMP_GT_OQ);
      const std::uint16_t bits = std::uint16_t((lt & ~flip) | (gt & flip));
      std::memcpy(o + 2 * (f / 16), &bits, sizeof bits);
    }
  }
}

}  // namespace

void first_conv_threshold__avx512(const float* x, const ConvShape& s, const std::uint32_t* wsign, std::size_t ldw,
                                  std::size_t n, const float* thresholds, const word_t* flips, word_t* out,
                                  std::size_t r0, std::size_t r1) {
  const std::size_t out_words = words_for(n);
  for (std::size_t r = r0; r < r1; ++r)
    for (std::size_t q = 0; q < out_words; ++q) out[r * out_words + q] = 0;  // 16-bit groups past n stay zero
  for (std::size_t f0 = 0; f0 < n; f0 += 128) {
    const std::size_t nv = (min_sz(n - f0, 128) + 15) / 16;
    switch (nv) {
      case 1: filter_block<1>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
      case 2: filter_block<2>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
      case 3: filter_block<3>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
      case 4: filter_block<4>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
      case 5: filter_block<5>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
      case 6: filter_block<6>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
      case 7: filter_block<7>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
      default: filter_block<8>(x, s, wsign, ldw, f0, n, thresholds, flips, out, r0, r1); break;
    }
  }
}

}  // namespace pbn
