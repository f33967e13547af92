// The first conv layer on AVX2: 8 filters per register, 8 registers (64
// filters) per pass over a pixel's taps. AVX2 has no mask registers, so the
// +1 bits are expanded once per call into float lane masks (all ones where
// w = +1; kh * kw * C x round8(n) floats, ~14 KB for the CIFAR first layer) and
// P += x AND mask: adding +0.0 for a -1 weight leaves P unchanged, so the
// sums are the reference's bit for bit. y = (P + P) - S as in kernels.h.
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "../tail.h"
#include "taps.h"

namespace pbn {
namespace {

constexpr int kRegs = 8;  // accumulators per pass: 64 filters

template <int NV>
void filter_pass(const float* x, const ConvShape& s, const float* masks, std::size_t ldm, std::size_t f0,
                 std::size_t n, const float* thresholds, const word_t* flips, word_t* out, std::size_t ldo,
                 std::size_t r0, std::size_t r1) {
  const std::size_t c = s.words;
  for (std::size_t r = r0; r < r1; ++r) {
    __m256 pos[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) pos[v] = _mm256_setzero_ps();
    float all = 0.0f;
    for_each_tap(x, s, r, [&](const float* px, std::size_t j) PBN_INLINE_LAMBDA {
      const float* m = masks + j * ldm + f0;
      for (std::size_t ch = 0; ch < c; ++ch) {
        all += px[ch];
        const __m256 xv = _mm256_set1_ps(px[ch]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v)
          pos[v] = _mm256_add_ps(pos[v], _mm256_and_ps(xv, _mm256_loadu_ps(m + ch * ldm + 8 * v)));
      }
    });
    const __m256 total = _mm256_set1_ps(all);
    auto* o = reinterpret_cast<unsigned char*>(out + r * ldo);  // 8 output bits per register: one byte
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const std::size_t f = f0 + 8 * std::size_t(v);
      if (f >= n) break;
      const __m256 y = _mm256_sub_ps(_mm256_add_ps(pos[v], pos[v]), total);
      const std::size_t live = n - f < 8 ? n - f : 8;
      // A masked load, not a copy into a zeroed stack buffer: a 32-byte load of bytes just written by
      // smaller stores is never forwarded and waits for them (the whole kernel ran 1.7-2.3x slower).
      const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(live)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      const __m256 t = _mm256_maskload_ps(thresholds + f, lanes);  // lanes past n: 0, as before
      const unsigned lt = unsigned(_mm256_movemask_ps(_mm256_cmp_ps(y, t, _CMP_LT_OQ)));
      const unsigned gt = unsigned(_mm256_movemask_ps(_mm256_cmp_ps(y, t, _CMP_GT_OQ)));
      const unsigned flip = unsigned(flips[f / 64] >> (f % 64)) & 0xFF;
      o[f / 8] = static_cast<unsigned char>(((lt & ~flip) | (gt & flip)) & ((1u << live) - 1));
    }
  }
}

}  // namespace

void first_conv_threshold__avx2(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw,
                                std::size_t n, const float* thresholds, const word_t* flips, word_t* out,
                                std::size_t ldo, std::size_t r0, std::size_t r1) {
  const std::size_t out_words = words_for(n), k = s.kh * s.kw * s.words, ldm = (n + 7) / 8 * 8;
  for (std::size_t r = r0; r < r1; ++r)
    for (std::size_t q = 0; q < out_words; ++q) out[r * ldo + q] = 0;  // bytes past n stay zero
  auto* masks = static_cast<float*>(std::malloc((k * ldm + 1) * sizeof(float)));
  if (!masks) {  // out of memory for the masks: the reference gives the same bits without them
    first_conv_threshold__scalar(x, s, wpos, ldw, n, thresholds, flips, out, ldo, r0, r1);
    return;
  }
  const std::uint32_t ones = 0xFFFFFFFFu, zero = 0;
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t f = 0; f < ldm; ++f) {
      const bool plus = f < n && ((wpos[j * ldw + f / 64] >> (f % 64)) & 1);
      std::memcpy(masks + j * ldm + f, plus ? &ones : &zero, sizeof(float));
    }
  for (std::size_t f0 = 0; f0 < n; f0 += 8 * kRegs) {
    with_count<kRegs>((min_sz(n - f0, 8 * kRegs) + 7) / 8, [&](auto nv) {
      filter_pass<decltype(nv)::value>(x, s, masks, ldm, f0, n, thresholds, flips, out, ldo, r0, r1);
    });
  }
  std::free(masks);
}

}  // namespace pbn
