// The training batch norm (batch_norm_body.h) compiled for avx512, with its own forward sums stage: the
// plain loop kept each channel's float64 sums in a stack array, loaded and stored again every row (the
// sums stage of 51200 x 128 took ~3.7 ms of the forward's 6.7 on a Zen 4; a pass over memory ~0.9).
// Here a strip of up to 64 channels keeps its sums in registers over a pass of rows. Each channel adds
// the same terms in the same (row) order as the reference, no FMA: the same bits. (The backward's sums
// done so measured no faster: its two input streams, not the sums, bound it.)
#include <immintrin.h>

#include <algorithm>

#include "../kernels.h"
#include "../tail.h"

namespace pbn {
namespace {

constexpr int kStrip = 8;  // float64 vectors of 8 channels per strip: 2 x 8 sums in registers

__m512d load_pd(const float* p, __mmask8 m) { return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, p)); }

// Channels [0, 8 * (V - 1) + tail) of a strip starting at x / sums (tail lanes in the last vector).
template <int V>
void train_strip(const float* x, std::size_t ld, const float* x0, std::size_t r0, std::size_t r1, __mmask8 tail,
                 bool first, double* s1_out, double* s2_out) {
  __m512d s1[V], s2[V], c0[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    const __mmask8 m = v == V - 1 ? tail : __mmask8(0xff);
    s1[v] = first ? _mm512_setzero_pd() : _mm512_maskz_loadu_pd(m, s1_out + 8 * v);
    s2[v] = first ? _mm512_setzero_pd() : _mm512_maskz_loadu_pd(m, s2_out + 8 * v);
    c0[v] = load_pd(x0 + 8 * v, m);
  }
  for (std::size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * ld;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      const __m512d d = _mm512_sub_pd(load_pd(xr + 8 * v, v == V - 1 ? tail : __mmask8(0xff)), c0[v]);
      s1[v] = _mm512_add_pd(s1[v], d);
      s2[v] = _mm512_add_pd(s2[v], _mm512_mul_pd(d, d));
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    const __mmask8 m = v == V - 1 ? tail : __mmask8(0xff);
    _mm512_mask_storeu_pd(s1_out + 8 * v, m, s1[v]);
    _mm512_mask_storeu_pd(s2_out + 8 * v, m, s2[v]);
  }
}

// Runs strip(Count<V>, j, tail) over channels [0, nb): whole strips of 64, then one strip of the rest (tail.h).
template <class Strip>
void strips(std::size_t nb, const Strip& strip) {
  std::size_t j = 0;
  for (; j + 8 * kStrip <= nb; j += 8 * kStrip) strip(Count<kStrip>{}, j, __mmask8(0xff));
  const std::size_t left = nb - j;  // 0 .. 63
  if (left == 0) return;
  const __mmask8 tail = __mmask8((1u << (left - (left - 1) / 8 * 8)) - 1);  // lanes of the last vector, 1 .. 8
  with_count<kStrip>((left + 7) / 8, [&](auto v) { strip(v, j, tail); });
}

// Rows per pass of the strips: the strips of a pass read neighbouring lines of the same rows while they are in
// cache, not one strip's lines of a whole block and then the next strip's; the sums are parked in `sums`
// between passes (exact: float64 stored and loaded).
constexpr std::size_t kPassRows = 64;

void bn_train_sums_avx512(const BatchNormTrainArgs& a, std::size_t r0, std::size_t r1, std::size_t b0,
                          std::size_t nb) {
  std::size_t p = r0;
  do {  // at least once: no rows write zero sums, as the reference
    const std::size_t p1 = std::min(r1, p + kPassRows);
    strips(nb, [&](auto v, std::size_t j, __mmask8 tail) {
      train_strip<decltype(v)::value>(a.x + b0 + j, a.ld, a.x0 + b0 + j, p, p1, tail, p == r0, a.sums + b0 + j,
                                      a.sums + a.ld + b0 + j);
    });
    p = p1;
  } while (p < r1);
}

}  // namespace
}  // namespace pbn

#define PBN_BN_TRAIN_SUMS bn_train_sums_avx512
#include "batch_norm_body.h"

namespace pbn {
PBN_BATCH_NORM_VARIANTS(avx512)
}  // namespace pbn
